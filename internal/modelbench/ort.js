// One ONNX Runtime side of modelbench: load the network, one warm-up pass,
// then the best of PASSES; prints {"Wall": s, "CPU": s per pass}.
// Usage: NODE_PATH=.../node_modules node ort.js FILE.onnx PASSES THREADS
const ort = require('onnxruntime-node');
const [file, passes, threads] = [process.argv[2], +process.argv[3], +process.argv[4]];
(async () => {
  const s = await ort.InferenceSession.create(file, { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
  const x = new ort.Tensor('float32', Float32Array.from({ length: 4 * 96 ** 3 }, () => Math.random() - 0.5), [1, 4, 96, 96, 96]);
  const feeds = { [s.inputNames[0]]: x };
  await s.run(feeds);
  let best = 1e9;
  const c0 = process.cpuUsage();
  for (let i = 0; i < passes; i++) {
    const t = process.hrtime.bigint();
    await s.run(feeds);
    best = Math.min(best, Number(process.hrtime.bigint() - t) / 1e9);
  }
  const c = process.cpuUsage(c0);
  console.log(JSON.stringify({ Wall: best, CPU: (c.user + c.system) / 1e6 / passes }));
})().catch((e) => { console.error(e); process.exit(1); });
