#!/usr/bin/env node
// GPT-2 token ids from an implementation independent of eprunner: the npm package
// gpt-tokenizer (pinned in package.json), encoding r50k_base = GPT-2's 50257-token BPE
// (ref: tiktoken's "gpt2" and "r50k_base" share the same ranks).
//
//   node gpt2_reference.cjs encode CHUNKS OUT   CHUNKS: UTF-8 texts separated by NUL bytes;
//                                               OUT: one line per text, ids separated by spaces
//   node gpt2_reference.cjs bench TEXT N        encodes the whole file N times (single thread),
//                                               prints one JSON line with the timings
'use strict';
const fs = require('fs');
const path = require('path');
const r50k = require('gpt-tokenizer/cjs/encoding/r50k_base');

function packageVersion() {
  const pkg = require.resolve('gpt-tokenizer/package.json');
  return JSON.parse(fs.readFileSync(pkg, 'utf8')).version;
}

function encodeChunks(chunksPath, outPath) {
  const texts = fs.readFileSync(chunksPath, 'utf8').split('\0');
  const lines = texts.map((t) => r50k.encode(t).join(' '));
  fs.writeFileSync(outPath, lines.join('\n') + '\n');
}

function bench(textPath, iterations) {
  const text = fs.readFileSync(textPath, 'utf8');
  const bytes = Buffer.byteLength(text, 'utf8');
  const seconds = [];
  const cpuSeconds = [];  // user + system CPU of the whole process (GC helper threads too)
  let tokens = 0;
  for (let i = 0; i < iterations; i++) {
    const start = process.hrtime.bigint();
    const cpuStart = process.cpuUsage();
    tokens = r50k.encode(text).length;
    const cpu = process.cpuUsage(cpuStart);
    cpuSeconds.push((cpu.user + cpu.system) / 1e6);
    seconds.push(Number(process.hrtime.bigint() - start) / 1e9);
  }
  const best = Math.min(...seconds);
  console.log(JSON.stringify({
    impl: `gpt-tokenizer ${packageVersion()} (r50k_base), node ${process.version}`,
    bytes, tokens, iterations, seconds, cpu_seconds: cpuSeconds,
    first_mb_per_s: bytes / 1e6 / seconds[0],
    best_mb_per_s: bytes / 1e6 / best,
    best_cpu_mb_per_s: bytes / 1e6 / Math.min(...cpuSeconds),
  }));
}

const [mode, a, b] = process.argv.slice(2);
if (mode === 'encode' && a && b) encodeChunks(a, b);
else if (mode === 'bench' && a) bench(a, Number(b || 3));
else {
  console.error(`usage: ${path.basename(process.argv[1])} encode CHUNKS OUT | bench TEXT N`);
  process.exit(2);
}
