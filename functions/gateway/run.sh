#!/bin/bash
# StreamingFunction's start command. The AWS Lambda Web Adapter (AWS_LAMBDA_EXEC_WRAPPER=/opt/bootstrap)
# runs this script instead of a Python handler; it serves the same FastAPI app with uvicorn so that
# responses stream through the RESPONSE_STREAM Function URL. Layers are in /opt/python; the runtime's
# own packages (boto3) are in $LAMBDA_RUNTIME_DIR.
export PYTHONPATH="${LAMBDA_TASK_ROOT}:/opt/python:${LAMBDA_RUNTIME_DIR}${PYTHONPATH:+:${PYTHONPATH}}"
exec python3 -m uvicorn gateway.app:app --host 127.0.0.1 --port "${PORT:-8080}" --no-access-log --log-level warning
