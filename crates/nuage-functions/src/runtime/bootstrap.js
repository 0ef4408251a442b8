// nuage's runtime client for Node.js functions.
//
// Speaks the Lambda Runtime API (AWS_LAMBDA_RUNTIME_API) the way AWS's
// aws-lambda-ric does: load the handler named by _HANDLER (CommonJS or an
// ES module), then loop on invocation/next, call the handler (async, or with
// a callback), post its result or its error in AWS's shape. Written by nuage.
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

function errorBody(error, requestId) {
  const kind = (error && error.name) || "Error";
  const message = error && error.message !== undefined ? String(error.message) : String(error);
  const stack = error && error.stack ? String(error.stack).split("\n").slice(1).map((s) => s.trim()) : [];
  return { errorType: kind, errorMessage: message, requestId: requestId || "", stackTrace: stack };
}

async function postError(route, body) {
  console.error(`${new Date().toISOString()}\t${body.requestId || "undefined"}\tERROR\t${JSON.stringify(body)}`);
  endMark();
  await request("POST", route, JSON.stringify(body), {
    "Lambda-Runtime-Function-Error-Type": body.errorType,
    "Content-Type": "application/json",
  });
}

async function initError(kind, message) {
  await postError("/init/error", { errorType: kind, errorMessage: message, requestId: "", stackTrace: [] });
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
    await postError("/init/error", errorBody(e, ""));
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

async function main() {
  const handler = await loadHandler();
  endMark();
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
      await postError(`/invocation/${requestId}/error`, errorBody(e, requestId));
      continue;
    }
    endMark();
    const payload = result === undefined ? "null" : JSON.stringify(result);
    await request("POST", `/invocation/${requestId}/response`, payload, { "Content-Type": "application/json" });
  }
}

main();
