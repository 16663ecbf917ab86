"""OpenAI Files and Batches API: ``/v1/files`` and ``/v1/batches`` on ``router`` (its paths carry no
``/v1``: ``create_app`` mounts it with and without that prefix), and the admin prefix grants on
``admin_router`` (``/batch/s3_prefix/*``, never under ``/v1``).

Objects are visible to the key that created them and to admins; anyone else gets a 404, as if
they did not exist. Uploads go through the API body limit (``GATEWAY_MAX_BODY_BYTES``, at most
6 MB behind a Function URL); bigger files are dropped straight into S3 under
``batch/input/<prefix>/``, where ``<prefix>`` is granted to an owner through
``/batch/s3_prefix/new|delete|list`` (master key only: a grant lets whoever may write the prefix
spend as that owner, see ``prefixes.py``).
"""
from __future__ import annotations

import json
from typing import Any, Callable, TypeVar

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from python_multipart.multipart import parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from gateway import errors
from gateway.auth import authenticate
from gateway.principal import Principal
from gateway.batch import blobs, jobs, prefixes, store
from gateway.batch import principal as owners
from gateway.batch.formats import batch_object, file_object

router = APIRouter(tags=["batch"])
admin_router = APIRouter(tags=["batch", "admin"])  # the prefix grants
T = TypeVar("T")


async def _io(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Blocking AWS work off the event loop; missing infrastructure is a 503 that says what."""
    try:
        return await run_in_threadpool(fn, *args, **kwargs)
    except (store.StoreMissing, blobs.BucketMissing) as err:
        raise errors.unavailable(str(err), code="batch_unavailable") from None


def _visible_file(principal: Principal, file_id: str) -> Callable[[], dict[str, Any]]:
    def load() -> dict[str, Any]:
        item = store.get_file(file_id)
        if item is None or not owners.may_see(principal, item.get("owner")):
            raise errors.not_found(f"No such File object: {file_id}", param="id", code="file_not_found")
        return item
    return load


def _visible_batch(principal: Principal, batch_id: str) -> dict[str, Any]:
    item = store.get_batch(batch_id)
    if item is None or not owners.may_see(principal, item.get("owner")):
        raise errors.not_found(f"No batch found with id '{batch_id}'.", param="batch_id", code="batch_not_found")
    return item


_NOT_MULTIPART = "Upload the file as multipart/form-data with fields 'file' and 'purpose'."


async def _read_form(request: Request) -> FormData:
    """The upload's fields, parsed by python-multipart through Starlette (file parts spooled, in memory
    up to 1 MB). The body limit is the middleware's Content-Length check, as for every route."""
    content_type, params = parse_options_header(request.headers.get("content-type", ""))
    if content_type != b"multipart/form-data" or not params.get(b"boundary"):
        raise errors.bad_request(_NOT_MULTIPART, code="invalid_request")
    try:
        return await request.form()
    except StarletteHTTPException as err:  # Starlette's 400 for what python-multipart cannot parse
        raise errors.bad_request(f"Malformed multipart body: {str(err.detail).rstrip('.')}.",
                                 code="invalid_request") from None


async def _text(value: str | UploadFile) -> str:
    return (await value.read()).decode("utf-8", "replace") if isinstance(value, UploadFile) else value


async def create_file(request: Request, principal: Principal = Depends(authenticate)) -> dict[str, Any]:
    form = await _read_form(request)
    try:
        purpose = (await _text(form["purpose"])).strip() if "purpose" in form else None
        if purpose is None:
            raise errors.bad_request("Missing required parameter: 'purpose'.", param="purpose",
                                     code="missing_required_parameter")
        if purpose != "batch":
            raise errors.bad_request(f"This gateway stores files for purpose 'batch' only, not '{purpose}'.",
                                     param="purpose", code="invalid_value")
        upload = form.get("file")
        if not isinstance(upload, UploadFile):  # absent, or a plain field (a file part has a filename)
            raise errors.bad_request("Missing required parameter: 'file'.", param="file",
                                     code="missing_required_parameter")
        data = await upload.read()
    finally:
        await form.close()
    item = await _io(jobs.create_file, owners.owner_of(principal), data, upload.filename or "upload.jsonl", purpose)
    return file_object(item)


async def retrieve_file(file_id: str, principal: Principal = Depends(authenticate)) -> dict[str, Any]:
    return file_object(await _io(_visible_file(principal, file_id)))


async def file_content(file_id: str, principal: Principal = Depends(authenticate)) -> Response:
    item = await _io(_visible_file(principal, file_id))
    data = await _io(blobs.get, item["s3_key"])
    return Response(content=data, media_type="application/octet-stream")


async def list_files(after: str | None = None, limit: int = 100, purpose: str | None = None,
                     principal: Principal = Depends(authenticate)) -> dict[str, Any]:
    if not 1 <= limit <= 10_000:
        raise errors.bad_request("limit must be between 1 and 10000.", param="limit", code="invalid_value")
    cursor = await _io(_visible_file(principal, after)) if after else None
    items, more = await _io(store.list_files, owners.owner_of(principal), limit=limit, after=cursor)
    data = [file_object(i) for i in items if purpose is None or i.get("purpose") == purpose]
    return {"object": "list", "data": data, "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None, "has_more": more}


async def _json(request: Request) -> dict[str, Any]:
    try:
        data = json.loads(await request.body() or b"{}")
    except ValueError as err:
        raise errors.bad_request(f"Request body is not valid JSON: {err}", code="invalid_json") from None
    if not isinstance(data, dict):
        raise errors.bad_request("Request body must be a JSON object.", code="invalid_json")
    return data


async def create_batch(request: Request, principal: Principal = Depends(authenticate)) -> dict[str, Any]:
    data = await _json(request)
    for name in ("input_file_id", "endpoint", "completion_window"):
        if not isinstance(data.get(name), str):
            raise errors.bad_request(f"Missing required parameter: '{name}'.", param=name,
                                     code="missing_required_parameter")
    item = await _io(jobs.create_batch, owners.owner_of(principal), input_file_id=data["input_file_id"],
                     endpoint=data["endpoint"], completion_window=data["completion_window"],
                     metadata=data.get("metadata"), visible=lambda owner: owners.may_see(principal, owner))
    return batch_object(item)


async def retrieve_batch(batch_id: str, principal: Principal = Depends(authenticate)) -> dict[str, Any]:
    return batch_object(await _io(_visible_batch, principal, batch_id))


async def cancel_batch(batch_id: str, principal: Principal = Depends(authenticate)) -> dict[str, Any]:
    item = await _io(_visible_batch, principal, batch_id)
    return batch_object(await _io(jobs.cancel, item))


async def list_batches(after: str | None = None, limit: int = 20,
                       principal: Principal = Depends(authenticate)) -> dict[str, Any]:
    if not 1 <= limit <= 100:
        raise errors.bad_request("limit must be between 1 and 100.", param="limit", code="invalid_value")
    cursor = await _io(_visible_batch, principal, after) if after else None
    items, more = await _io(store.list_batches, owners.owner_of(principal), limit=limit, after=cursor)
    data = [batch_object(i) for i in items]
    return {"object": "list", "data": data, "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None, "has_more": more}


router.add_api_route("/files", create_file, methods=["POST"], summary="Upload a batch input file")
router.add_api_route("/files", list_files, methods=["GET"], summary="List your files")
router.add_api_route("/files/{file_id}", retrieve_file, methods=["GET"], summary="Retrieve a file")
router.add_api_route("/files/{file_id}/content", file_content, methods=["GET"], summary="Download a file's content")
router.add_api_route("/batches", create_batch, methods=["POST"], summary="Create a batch")
router.add_api_route("/batches", list_batches, methods=["GET"], summary="List your batches")
router.add_api_route("/batches/{batch_id}", retrieve_batch, methods=["GET"], summary="Retrieve a batch")
router.add_api_route("/batches/{batch_id}/cancel", cancel_batch, methods=["POST"], summary="Cancel a batch")


# ---------------------------------------------------------------- S3 input prefix grants (admin)
async def require_master(principal: Principal = Depends(authenticate)) -> Principal:
    """Only the master key grants prefixes: an admin virtual key must not hand out ``master``."""
    if principal.kind != "master":
        raise errors.forbidden("Granting S3 input prefixes needs the master key.")
    return principal


async def prefix_new(body: prefixes.PrefixGrant, principal: Principal = Depends(require_master)) -> dict[str, Any]:
    return await _io(prefixes.register, body)


async def prefix_delete(body: prefixes.PrefixRef, principal: Principal = Depends(require_master)) -> dict[str, Any]:
    return await _io(prefixes.unregister, body)


async def prefix_list(principal: Principal = Depends(require_master)) -> dict[str, Any]:
    return await _io(prefixes.list_grants)


admin_router.add_api_route("/batch/s3_prefix/new", prefix_new, methods=["POST"],
                           summary="Grant an S3 input prefix (batch/input/<prefix>/) to a key")
admin_router.add_api_route("/batch/s3_prefix/delete", prefix_delete, methods=["POST"],
                           summary="Withdraw an S3 input prefix grant")
admin_router.add_api_route("/batch/s3_prefix/list", prefix_list, methods=["GET"],
                           summary="List S3 input prefix grants")
