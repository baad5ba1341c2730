"""The trigger catalogue, as data: what each trigger is called, which versions and runtimes it
accepts, its handlers, whether the login waits for it, and the runtime job kind that runs it.
A trigger slots in by adding an entry here and its api/flow files in runtime_js/."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Trigger:
    id: str
    versions: tuple[str, ...]
    current_version: str
    handlers: tuple[str, ...]
    blocking: bool
    job_kind: str
    runtimes: tuple[str, ...] = ("node18", "node22")
    default_runtime: str = "node22"
    compatible: tuple[str, ...] = field(default=())

    def describe(self) -> dict[str, object]:
        return {
            "id": self.id,
            "version": self.current_version,
            "status": "CURRENT",
            "runtimes": list(self.runtimes),
            "default_runtime": self.default_runtime,
            "compatible_triggers": [{"id": c, "version": self.current_version} for c in self.compatible],
            "binding_policy": "trigger-bound",
        }


TRIGGERS: dict[str, Trigger] = {
    t.id: t
    for t in (
        Trigger(
            id="post-login",
            versions=("v2", "v3"),
            current_version="v3",
            handlers=("onExecutePostLogin", "onContinuePostLogin"),
            blocking=True,
            job_kind="post-login",
        ),
    )
}


def trigger(trigger_id: str) -> Trigger | None:
    return TRIGGERS.get(trigger_id)
