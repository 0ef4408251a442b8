// nuage's runtime client for Node.js functions.
//
// Where AWS's runtime interface client (aws-lambda-ric) is installed - in
// the function's node_modules, a layer's (NODE_PATH) or node's global ones -
// the handler runs under it, as on AWS; nuage only loads the handler first
// (so a broken one fails the same way either way) and marks the end of each
// invocation's output for the function's log.
//
// Otherwise this file speaks the Lambda Runtime API (AWS_LAMBDA_RUNTIME_API)
// the way aws-lambda-ric does: load the handler named by _HANDLER (CommonJS
// or an ES module), then loop on invocation/next, call the handler (async,
// or with a callback), post its result or its error in AWS's shape.
"use strict";

const fs = require("fs");
const http = require("http");
const path = require("path");
const url = require("url");

const [HOST, PORT] = process.env.AWS_LAMBDA_RUNTIME_API.split(":");
const BASE = "/2018-06-01/runtime";
const END_MARK = "\x01nuage-invocation-end\n";
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function request(method, route, body, headers) {
  return new Promise((resolve) => {
    const req = http.request(
      { host: HOST, port: PORT, method, path: BASE + route, agent, headers: headers || {} },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
      },
    );
    // nuage is gone: nothing will ever be asked of us again.
    req.on("error", () => process.exit(0));
    if (body !== undefined) req.write(body);
    req.end();
  });
}

function endMark() {
  fs.writeSync(1, END_MARK);
}

// An error as the Node.js runtime reports it: errorType, errorMessage and
// the stack's lines as `trace` (a thrown non-Error: its type and text).
function errorBody(error) {
  if (error instanceof Error) {
    return {
      errorType: error.name,
      errorMessage: String(error.message),
      trace: String(error.stack || "").split("\n"),
    };
  }
  return { errorType: typeof error, errorMessage: String(error), trace: [] };
}

async function postError(route, body, requestId) {
  console.error(`${new Date().toISOString()}\t${requestId || "undefined"}\tERROR\t${JSON.stringify(body)}`);
  endMark();
  await request("POST", route, JSON.stringify(body), {
    "Lambda-Runtime-Function-Error-Type": body.errorType,
    "Content-Type": "application/json",
  });
}

async function initError(kind, message) {
  await postError("/init/error", { errorType: kind, errorMessage: message, trace: [] });
  process.exit(1);
}

async function loadHandler() {
  const taskRoot = process.env.LAMBDA_TASK_ROOT || process.cwd();
  const handler = process.env._HANDLER || "";
  const dot = handler.lastIndexOf(".");
  if (dot < 0) {
    await initError("Runtime.MalformedHandlerName", `Bad handler ${handler}`);
  }
  const moduleName = handler.slice(0, dot);
  const functionName = handler.slice(dot + 1);
  const base = path.resolve(taskRoot, moduleName);
  let module;
  try {
    if (fs.existsSync(base + ".mjs")) {
      module = await import(url.pathToFileURL(base + ".mjs").href);
    } else {
      try {
        module = require(base);
      } catch (e) {
        if (e && e.code === "ERR_REQUIRE_ESM") {
          module = await import(url.pathToFileURL(base + ".js").href);
        } else {
          throw e;
        }
      }
    }
  } catch (e) {
    if (e && e.code === "MODULE_NOT_FOUND" && String(e.message).includes(base)) {
      await initError("Runtime.ImportModuleError", `Error: Cannot find module '${moduleName}'`);
    }
    if (e instanceof SyntaxError) {
      await initError("Runtime.UserCodeSyntaxError", `${e.name}: ${e.message}`);
    }
    await postError("/init/error", errorBody(e));
    process.exit(1);
  }
  const fn = module[functionName] !== undefined ? module[functionName] : module.default && module.default[functionName];
  if (typeof fn !== "function") {
    await initError("Runtime.HandlerNotFound", `${handler} is undefined or not exported`);
  }
  return fn;
}

function call(handler, event, context) {
  return new Promise((resolve, reject) => {
    let settled = false;
    const callback = (error, result) => {
      if (settled) return;
      settled = true;
      if (error) reject(error);
      else resolve(result);
    };
    try {
      const out = handler(event, context, callback);
      if (out && typeof out.then === "function") {
        out.then((r) => callback(null, r), (e) => callback(e || new Error("Promise rejected")));
      } else if (handler.length < 3) {
        callback(null, out);
      }
    } catch (e) {
      callback(e);
    }
  });
}

// aws-lambda-ric's files, where it is installed: its entry and its native
// Runtime API client.
function findRic(taskRoot) {
  const globalModules = path.join(path.dirname(path.dirname(process.execPath)), "lib", "node_modules");
  const dirs = [path.join(taskRoot, "node_modules")]
    .concat((process.env.NODE_PATH || "").split(path.delimiter).filter(Boolean))
    .concat([globalModules]);
  for (const dir of dirs) {
    const entry = path.join(dir, "aws-lambda-ric", "dist", "index.mjs");
    const native = path.join(dir, "aws-lambda-ric", "dist", "rapid-client.node");
    if (fs.existsSync(entry) && fs.existsSync(native)) return { entry, native };
  }
  return null;
}

// Hands the handler to aws-lambda-ric. Its native client posts each result
// or error itself: the end of the invocation's output is marked just before
// (the client loads the same module object from require's cache).
async function runRic(ric, taskRoot) {
  const native = require(ric.native);
  for (const name of ["done", "error"]) {
    const post = native[name];
    native[name] = function (...args) {
      endMark();
      return post.apply(this, args);
    };
  }
  const { run } = await import(url.pathToFileURL(ric.entry).href);
  await run(taskRoot, process.env._HANDLER || "");
}

async function main() {
  const handler = await loadHandler();
  endMark();
  const taskRoot = process.env.LAMBDA_TASK_ROOT || process.cwd();
  const ric = findRic(taskRoot);
  if (ric) {
    await runRic(ric, taskRoot);
    return;
  }
  for (;;) {
    const next = await request("GET", "/invocation/next");
    const h = next.headers;
    const requestId = h["lambda-runtime-aws-request-id"];
    const deadline = Number(h["lambda-runtime-deadline-ms"] || 0);
    process.env._X_AMZN_TRACE_ID = h["lambda-runtime-trace-id"] || "";
    const context = {
      awsRequestId: requestId,
      invokedFunctionArn: h["lambda-runtime-invoked-function-arn"],
      functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
      functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
      memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
      logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
      logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
      callbackWaitsForEmptyEventLoop: true,
      getRemainingTimeInMillis: () => Math.max(deadline - Date.now(), 0),
    };
    let result;
    try {
      const body = next.body.length ? JSON.parse(next.body.toString("utf8")) : null;
      result = await call(handler, body, context);
    } catch (e) {
      await postError(`/invocation/${requestId}/error`, errorBody(e), requestId);
      continue;
    }
    endMark();
    const payload = result === undefined ? "null" : JSON.stringify(result);
    await request("POST", `/invocation/${requestId}/response`, payload, { "Content-Type": "application/json" });
  }
}

main();
