"""The .qwc file a person loads into the Web Connector to add this service as an application."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from lxml import etree

from qbsync.queue.naming import PLATFORM_NAMES
from qbsync.storage.models import Connection

LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}


@dataclass(frozen=True)
class QwcFile:
    """The rendered file and any warnings a person should see before using it."""

    xml: str
    warnings: list[str]

    @property
    def filename(self) -> str:
        return "qbsync.qwc"


def url_warnings(url: str) -> list[str]:
    """Why the Web Connector may refuse ``url`` (it accepts plain http only for localhost)."""
    parts = urlsplit(url)
    warnings: list[str] = []
    if parts.scheme not in ("http", "https") or not parts.hostname:
        warnings.append(f"{url!r} is not an http(s) URL; the Web Connector needs the full address of /qbwc")
    elif parts.scheme == "http" and parts.hostname not in LOCAL_HOSTS:
        warnings.append(
            f"{url} uses plain http on {parts.hostname}: the Web Connector refuses that for anything but "
            "localhost. Put the service behind https (see deploy/nginx) or run it on the QuickBooks PC."
        )
    return warnings


def build_qwc(
    conn: Connection,
    app_url: str,
    *,
    app_name: str | None = None,
    run_every_minutes: int = 5,
) -> QwcFile:
    """Render the .qwc for ``conn`` served at ``app_url`` (the /qbwc endpoint).

    OwnerID and FileID come from the connection and never change, so loading a re-downloaded file
    replaces the application in the Web Connector instead of adding a second copy.
    """
    parts = urlsplit(app_url)
    # QBWC wants a support page on the AppURL's host; ours says what the service is and where to sign in.
    support = f"{parts.scheme}://{parts.netloc}/support"
    name = app_name or f"qbsync - {conn.name}"
    platform = PLATFORM_NAMES.get(conn.platform, conn.platform)
    root = etree.Element("QBWCXML")
    fields = [
        ("AppName", name),
        ("AppID", ""),
        ("AppURL", app_url),
        ("AppDescription", f"Syncs {platform} store {conn.store_url} with QuickBooks"[:80]),
        ("AppSupport", support),
        ("UserName", conn.qbwc_username),
        ("OwnerID", conn.owner_id),
        ("FileID", conn.file_id),
        ("QBType", "QBFS"),
    ]
    for tag, value in fields:
        etree.SubElement(root, tag).text = value
    scheduler = etree.SubElement(root, "Scheduler")
    etree.SubElement(scheduler, "RunEveryNMinutes").text = str(run_every_minutes)
    etree.SubElement(root, "IsReadOnly").text = "false"
    etree.SubElement(root, "UnattendedModePref").text = "umpOptional"
    etree.SubElement(root, "PersonalDataPref").text = "pdpOptional"
    etree.SubElement(root, "AppUniqueName").text = f"qbsync-{conn.owner_id.strip('{}').lower()}"
    xml = etree.tostring(root, pretty_print=True, xml_declaration=True, encoding="utf-8").decode()
    return QwcFile(xml=xml, warnings=url_warnings(app_url))
