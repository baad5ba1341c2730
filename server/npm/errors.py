"""Why a build of an action's npm dependencies failed: a code and a message, shown in the
action's `errors[]` as Auth0 shows a failed build ({id, msg, url})."""

from __future__ import annotations


class BuildError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def entry(self) -> dict[str, str]:
        return {"id": self.code, "msg": self.message, "url": ""}
