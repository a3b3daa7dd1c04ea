"""Schemathesis hooks for scripts/api-fuzz.sh: with a viewer's token, every mutation is refused."""
import os

import schemathesis


@schemathesis.check
def viewer_forbidden(ctx, response, case):
    # The session routes are public (login takes a token in its body; logout ends a cookie).
    # Only the operation's own method (other methods are 405 for everyone).
    if case.method.upper() != case.operation.method.upper():
        return None
    if case.method.upper() in ("GET", "HEAD") or case.path == "/session":
        return None
    # Some generated cases drop or mangle the header on purpose (401 is right for them).
    sent = response.request.headers.get("Authorization", "")
    if sent != "Bearer " + os.environ["API_FUZZ_VIEWER_TOKEN"]:
        return None
    if response.status_code != 403:
        raise AssertionError(
            f"a viewer got {response.status_code} from {case.method} {case.path}; expected 403"
        )
    return None
