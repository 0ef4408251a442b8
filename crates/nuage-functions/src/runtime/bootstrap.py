"""nuage's runtime client for Python functions.

When the interpreter has AWS's runtime interface client (awslambdaric,
`pip install awslambdaric`), the handler runs under it, as on AWS; nuage
only loads the handler first (to provide boto3 as the runtime does) and
marks the end of each invocation's output for the function's log.

Otherwise this file speaks the Lambda Runtime API (AWS_LAMBDA_RUNTIME_API)
the way awslambdaric does: import the handler named by _HANDLER, then loop
on invocation/next, call the handler, post its result or its error in
AWS's shape.
"""

import decimal
import http.client
import importlib
import importlib.util
import json
import logging
import os
import sys
import time
import traceback

API = os.environ["AWS_LAMBDA_RUNTIME_API"]
BASE = "/2018-06-01/runtime"
# Written after each invocation's output: nuage cuts its log there.
END_MARK = b"\x01nuage-invocation-end\n"

_conn = None


def _request(method, path, body=None, headers=None):
    global _conn
    for attempt in (0, 1):
        if _conn is None:
            _conn = http.client.HTTPConnection(API)
        try:
            _conn.request(method, BASE + path, body=body, headers=headers or {})
            response = _conn.getresponse()
            return response, response.read()
        except (ConnectionError, http.client.HTTPException, OSError):
            _conn.close()
            _conn = None
            if attempt:
                # nuage is gone: nothing will ever be asked of us again.
                os._exit(0)


def _error_body(kind, message, request_id="", stack=None):
    return json.dumps(
        {
            "errorMessage": message,
            "errorType": kind,
            "requestId": request_id,
            "stackTrace": stack or [],
        }
    ).encode()


def _post_error(path, kind, message, request_id="", stack=None):
    _request(
        "POST",
        path,
        _error_body(kind, message, request_id, stack),
        {"Lambda-Runtime-Function-Error-Type": kind, "Content-Type": "application/json"},
    )


def _stack(tb):
    """The handler's frames, without the runtime client's own."""
    frames = [f for f in traceback.extract_tb(tb) if f.filename != __file__]
    return traceback.format_list(frames)


def _log_exception(kind, message, stack):
    lines = "".join(stack)
    sys.stdout.write(f"[ERROR] {kind}: {message}\nTraceback (most recent call last):\n{lines}")


def _init_error(kind, message, stack=None):
    _log_exception(kind, message, stack or [])
    _post_error("/init/error", kind, message, "", stack)
    os.write(1, END_MARK)
    sys.exit(1)


def _shared_packages():
    """Packages the runtime gives every function (as /var/runtime on AWS)."""
    return os.path.join(os.environ.get("LAMBDA_RUNTIME_DIR", "."), "python")


def _provide_boto3():
    """pip-installs boto3 into the shared packages, once (other environments
    starting at the same time wait on the lock); True when it imports."""
    import fcntl
    import subprocess

    shared = _shared_packages()
    os.makedirs(shared, exist_ok=True)
    with open(shared + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        importlib.invalidate_caches()
        try:
            import boto3  # noqa: F401  (another environment installed it)

            return True
        except ImportError:
            pass
        print(f"nuage: installing boto3 for {sys.executable} into {shared} (once, as the runtime provides it)", flush=True)
        try:
            out = subprocess.run(
                [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                 "--no-input", "--target", shared, "boto3"],
                capture_output=True, text=True, timeout=600,
            )
        except (OSError, subprocess.TimeoutExpired) as e:
            _provide_boto3.failure = str(e)
            return False
        if out.returncode != 0:
            _provide_boto3.failure = (out.stderr or out.stdout).strip().splitlines()[-1:] or ["pip failed"]
            _provide_boto3.failure = _provide_boto3.failure[0]
            return False
    importlib.invalidate_caches()
    return True


_provide_boto3.failure = "not tried"


def _load_handler():
    handler = os.environ.get("_HANDLER", "")
    try:
        module_name, function_name = handler.rsplit(".", 1)
    except ValueError as e:
        _init_error("Runtime.MalformedHandlerName", f"Bad handler '{handler}': {e}")
    module_name = module_name.replace("/", ".")
    try:
        try:
            module = importlib.import_module(module_name)
        except ImportError as e:
            # As on AWS, the runtime provides boto3: when this interpreter
            # lacks it, nuage installs it once for every function.
            if getattr(e, "name", "") not in ("boto3", "botocore") or not _provide_boto3():
                raise
            importlib.invalidate_caches()
            module = importlib.import_module(module_name)
    except ImportError as e:
        message = f"Unable to import module '{module_name}': {e}"
        if getattr(e, "name", "") in ("boto3", "botocore"):
            shared = _shared_packages()
            message += (
                f" (as on AWS, handlers get boto3 from the runtime; nuage could not install it "
                f"({_provide_boto3.failure}): install it for {sys.executable} "
                f"with `{sys.executable} -m pip install boto3`, or for every function with "
                f"`{sys.executable} -m pip install --target {shared} boto3`)"
            )
        _init_error("Runtime.ImportModuleError", message)
    except SyntaxError as e:
        _init_error(
            "Runtime.UserCodeSyntaxError",
            f"Syntax error in module '{module_name}': {e}",
            _stack(e.__traceback__),
        )
    except Exception as e:
        _init_error(type(e).__name__, str(e), _stack(e.__traceback__))
    function = getattr(module, function_name, None)
    if function is None:
        _init_error(
            "Runtime.HandlerNotFound",
            f"Handler '{function_name}' missing on module '{module_name}'",
        )
    return function


class Context:
    def __init__(self, request_id, deadline_ms, arn, identity, client_context):
        self.aws_request_id = request_id
        self.invoked_function_arn = arn
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.identity = identity
        self.client_context = client_context
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self):
        return max(self._deadline_ms - int(time.time() * 1000), 0)


class _Encoder(json.JSONEncoder):
    def default(self, o):
        if isinstance(o, decimal.Decimal):
            return int(o) if o == o.to_integral_value() else float(o)
        return super().default(o)


class _LambdaLogHandler(logging.Handler):
    """The root logger's handler on AWS: level, time, request id, message."""

    request_id = ""

    def emit(self, record):
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        millis = int(record.msecs)
        message = self.format(record)
        sys.stdout.write(
            f"[{record.levelname}]\t{stamp}.{millis:03d}Z\t{self.request_id}\t{message}\n"
        )


def _limit_memory():
    """MemorySize as the ceiling of the process's data segment."""
    try:
        import resource

        limit = int(os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]) * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
    except (ImportError, KeyError, ValueError, OSError):
        pass


def _run_awslambdaric():
    """Hands the loaded handler to awslambdaric; each post to the Runtime
    API first marks the end of the invocation's output."""
    import runpy

    from awslambdaric import lambda_runtime_client

    client = lambda_runtime_client.LambdaRuntimeClient

    def marked(name):
        post = getattr(client, name)

        def call(self, *args, **kwargs):
            sys.stdout.flush()
            sys.stderr.flush()
            os.write(1, END_MARK)
            return post(self, *args, **kwargs)

        setattr(client, name, call)

    for name in ("post_invocation_result", "post_invocation_error", "post_init_error"):
        marked(name)
    sys.argv = ["awslambdaric", os.environ.get("_HANDLER", "")]
    runpy.run_module("awslambdaric", run_name="__main__", alter_sys=True)


def main():
    task_root = os.environ.get("LAMBDA_TASK_ROOT", os.getcwd())
    sys.path.insert(0, task_root)
    # Packages the runtime provides to every function (boto3), as
    # /var/runtime does on AWS: after the function's own.
    sys.path.append(_shared_packages())
    _limit_memory()
    if importlib.util.find_spec("awslambdaric") is not None:
        # Loaded here (boto3 provided, errors in AWS's shape), then found
        # by awslambdaric among the imported modules.
        _load_handler()
        os.write(1, END_MARK)
        _run_awslambdaric()
        return
    log_handler = _LambdaLogHandler()
    logging.getLogger().addHandler(log_handler)
    handler = _load_handler()
    os.write(1, END_MARK)
    while True:
        response, body = _request("GET", "/invocation/next")
        headers = {k.lower(): v for k, v in response.getheaders()}
        request_id = headers.get("lambda-runtime-aws-request-id", "")
        log_handler.request_id = request_id
        os.environ["_X_AMZN_TRACE_ID"] = headers.get("lambda-runtime-trace-id", "")
        context = Context(
            request_id,
            int(headers.get("lambda-runtime-deadline-ms", "0")),
            headers.get("lambda-runtime-invoked-function-arn", ""),
            json.loads(headers["lambda-runtime-cognito-identity"])
            if "lambda-runtime-cognito-identity" in headers
            else None,
            json.loads(headers["lambda-runtime-client-context"])
            if "lambda-runtime-client-context" in headers
            else None,
        )
        try:
            event = json.loads(body) if body else None
            result = handler(event, context)
        except Exception as e:
            kind, message = type(e).__name__, str(e)
            stack = _stack(e.__traceback__)
            _log_exception(kind, message, stack)
            os.write(1, END_MARK)
            _post_error(f"/invocation/{request_id}/error", kind, message, request_id, stack)
            continue
        try:
            payload = json.dumps(result, cls=_Encoder).encode()
        except (TypeError, ValueError) as e:
            message = f"Unable to marshal response: {e}"
            _log_exception("Runtime.MarshalError", message, [])
            os.write(1, END_MARK)
            _post_error(f"/invocation/{request_id}/error", "Runtime.MarshalError", message, request_id)
            continue
        os.write(1, END_MARK)
        _request(
            "POST",
            f"/invocation/{request_id}/response",
            payload,
            {"Content-Type": "application/json"},
        )


if __name__ == "__main__":
    main()
