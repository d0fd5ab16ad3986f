// Package plot draws the survival figures of metasurv with gonum/plot:
// the study's Figure 1 (the distribution of survival times with the class
// cut points and class shares), Kaplan–Meier curves by group with
// confidence bands, censoring marks and a numbers-at-risk table, and a
// calibration plot of predicted against observed survival at a horizon.
// Every figure is a Figure that writes PNG (WritePNG, at DPI) or SVG
// (WriteSVG), or either by file extension (Save).
package plot
