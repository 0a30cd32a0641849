"""The official Python Graph SDK (msgraph-sdk, asyncio) resetting N users against the sandbox.

Usage: python_sdk.py BASE_URL TOKEN USERS CONCURRENCY  ->  prints one JSON line
{"users": N, "seconds": wall time of the resets (client built), "errors": n}.
The same request credrotate sends: POST /users/{upn}/authentication/methods/{id}/resetPassword
with a newPassword body, bearer token, at most CONCURRENCY in flight (one connection each).
"""
import asyncio
import json
import secrets
import sys
import time

import httpx
from kiota_abstractions.authentication import (
    AccessTokenProvider,
    AllowedHostsValidator,
    BaseBearerTokenAuthenticationProvider,
)
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.generated.users.item.authentication.methods.item.reset_password.reset_password_post_request_body import (
    ResetPasswordPostRequestBody,
)
from msgraph_core import GraphClientFactory

PASSWORD_METHOD = "28c10230-6103-485e-b985-444c60001490"


class StaticToken(AccessTokenProvider):
    """A bearer token given on the command line (the sandbox's), for any host."""

    def __init__(self, token):
        self.token = token

    async def get_authorization_token(self, uri, additional_authentication_context=None):
        return self.token

    def get_allowed_hosts_validator(self):
        return AllowedHostsValidator([])


async def main(base, token, users, concurrency):
    http = GraphClientFactory.create_with_default_middleware(
        client=httpx.AsyncClient(limits=httpx.Limits(max_connections=concurrency), timeout=30)
    )
    adapter = GraphRequestAdapter(BaseBearerTokenAuthenticationProvider(StaticToken(token)), http)
    adapter.base_url = base  # before building the client: it takes the adapter's base URL
    client = GraphServiceClient(request_adapter=adapter)
    queue = asyncio.Queue()
    for i in range(1, users + 1):
        queue.put_nowait(f"sdk{i:07}@example.test")
    errors = 0

    async def worker():
        nonlocal errors
        while not queue.empty():
            upn = queue.get_nowait()
            body = ResetPasswordPostRequestBody(new_password=secrets.token_urlsafe(18))
            try:
                await client.users.by_user_id(upn).authentication.methods.by_authentication_method_id(
                    PASSWORD_METHOD
                ).reset_password.post(body)
            except Exception:  # counted, not fatal: the figure is throughput
                errors += 1

    start = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    print(json.dumps({"users": users, "seconds": time.monotonic() - start, "errors": errors}))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
