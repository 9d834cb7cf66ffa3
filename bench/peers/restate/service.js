// service.js: the Restate SDK endpoint of cairn's bench/peers.sh (copied
// into the shared/peers harness, whose bench.sh starts it and whose
// bench.js calls it, but which does not ship it).
//
// BenchWf (a Workflow, one key per workflow run) and BenchSvc (a Service)
// each run K durable no-op steps one after another: every ctx.run is
// journaled by restate-server before the next begins. The answer is
// {k, acc} with acc = 0 + 1 + ... + (k - 1), the sum of the steps'
// recorded results, which bench.js checks.
'use strict';
const restate = require('@restatedev/restate-sdk');

async function steps(ctx, req) {
  const k = Number(req && req.k) || 10;
  let acc = 0;
  for (let i = 0; i < k; i++) acc += await ctx.run(`step-${i}`, async () => i);
  return { k, acc };
}

const wf = restate.workflow({
  name: 'BenchWf',
  handlers: { run: async (ctx, req) => steps(ctx, req) },
});
const svc = restate.service({
  name: 'BenchSvc',
  handlers: { run: async (ctx, req) => steps(ctx, req) },
});

restate.serve({ services: [wf, svc], port: 9080 });
