// Runs the wasm32-wasip1 build of the engine bench under Node's V8 (the runtime Envoy uses).
//   node benches/wasm-engine/run.mjs [path/to/streammask-wasm-bench.wasm]
import { readFile } from "node:fs/promises";
import { WASI } from "node:wasi";
import { argv } from "node:process";

const path = argv[2] ?? "target/wasm32-wasip1/release/streammask-wasm-bench.wasm";
const wasi = new WASI({ version: "preview1", args: ["bench"], env: {} });
const module = await WebAssembly.compile(await readFile(path));
const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
wasi.start(instance);
