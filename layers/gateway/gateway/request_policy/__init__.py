"""The request-body policy: what of a caller's body may reach litellm, for every protocol.

The gateway, not the caller, decides where a call goes, which credentials it carries, what it
costs and whom it bills. litellm lets request arguments override a deployment's settings
(``api_base``, ``api_key``, prices, callbacks, ``mock_response``, ...), so a body is never handed to
litellm whole. Instead, per protocol (``protocols.py``):

1. names on the refused list (``refused.py``) are a 400 ``forbidden_param`` naming the parameter,
   at the top level and inside every container litellm reads (``metadata``, ``extra_body``, ...);
2. what reaches litellm is built from the protocol's allow-list of documented parameters and
   provider extras that cannot redirect a call;
3. anything else is dropped (LiteLLM's ``drop_params`` semantics for the OpenAI protocols) and
   named in the ``x-gateway-dropped-params`` response header;
4. client-side credentials and endpoints pass only where an admin opted in
   (``clientside.py``, LiteLLM's ``allow_client_side_credentials`` and
   ``configurable_clientside_auth_params``), and never with the deployment's own key.

Reference: LiteLLM's proxy closes the same class with a blocklist, ``is_request_body_safe`` in
``litellm/proxy/auth/auth_utils.py`` (installed 1.106.2; advisories GHSA-jh89-88fc-qrfp and
GHSA-3frq-6r6h-7j64). This gateway starts from an allow-list instead.
"""
from gateway.request_policy.clientside import ClientAuth, authorize_client_auth
from gateway.request_policy.protocols import CHAT, COMPLETION, EMBEDDING, Protocol
from gateway.request_policy.screen import Screened, screen

__all__ = ["CHAT", "COMPLETION", "EMBEDDING", "ClientAuth", "Protocol", "Screened", "authorize_client_auth",
           "screen"]
