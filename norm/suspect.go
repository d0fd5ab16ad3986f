package norm

// noteSuspect lists a registration in Report.Suspect when register's
// check flagged it. A suspect registration is kept (the pipeline still
// produces its output, as a clinician may judge the images usable), but
// it is never silent: the report names it and says why in its Check.
func (r *run) noteSuspect(rr RegistrationReport) {
	if rr.Check.Suspect {
		r.rep.Suspect = append(r.rep.Suspect, rr.Moving+" → "+rr.Fixed)
	}
}
