"""Hand-written qbXML: the job's payload is one request element, sent as it is."""

from __future__ import annotations

import re

from qbsync.qbxml.parse import Response
from qbsync.queue.handlers import ApplyResult, BuildResult, Context, Reject, Request, default_apply, register
from qbsync.storage.models import QueueJob

_ROOT = re.compile(r"^\s*<([A-Za-z]+Rq)\b([^>]*?)(/?)>", re.S)


class RawRequestHandler:
    """Sends ``payload["request"]`` with the exchange's requestID set on its root element."""

    kind = "qbxml"

    def build(self, ctx: Context, job: QueueJob) -> BuildResult:
        fragment = str(job.payload.get("request", ""))
        match = _ROOT.match(fragment)
        if not match:
            return Reject("the queued text is not a qbXML request element (e.g. <CustomerQueryRq>…)")
        name, attrs, selfclose = match.groups()
        attrs = re.sub(r'\s+requestID\s*=\s*("[^"]*"|\'[^\']*\')', "", attrs)
        head = f'<{name} requestID="{ctx.request_id}"{attrs}{selfclose}>'
        return Request(request_type=name, fragment=head + fragment[match.end():], step="send")

    def apply(self, ctx: Context, job: QueueJob, response: Response) -> ApplyResult:
        return default_apply(response)


register(RawRequestHandler())
