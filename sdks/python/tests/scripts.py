"""Prompts for the gateway's scripted model: a `ccgate-script` block whose steps are the
model's answers — a real Bash call in the task's workspace, then a closing text."""

from __future__ import annotations

import json


def script(title: str, *commands: str, answer: str) -> str:
    steps = [{"tool": "Bash", "input": {"command": command}} for command in commands]
    steps.append({"text": answer})
    return f"{title}\n\n```ccgate-script\n{json.dumps({'steps': steps})}\n```"
