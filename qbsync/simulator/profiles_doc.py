"""The "Profiles" part of docs/SIMULATOR.md, written from qbsync.simulator.profiles so the two agree.

python -m qbsync.simulator.profiles_doc      # prints the section (paste it into docs/SIMULATOR.md)
"""

from __future__ import annotations

from typing import Any

from qbsync.simulator.profiles import PROFILES, Profile


def _on(flag: bool) -> str:
    return "on" if flag else "off"


def _value(value: Any) -> str:
    return str(value["FullName"]) if isinstance(value, dict) else str(value)


def profiles_markdown() -> str:
    """Every profile but legacy: its host, preferences and seeded records, each with a source key,
    then the sources the keys stand for."""
    keys: dict[str, str] = {}

    def key(source: str) -> str:
        keys.setdefault(source, f"P{len(keys) + 1}")
        return f"[{keys[source]}]"

    out: list[str] = []
    for profile in PROFILES.values():
        if profile.name != "legacy":
            out += _profile_lines(profile, key)
    out.append("#### Profile sources\n")
    out += [f"- **[{k}]** {source}" for source, k in keys.items()]
    return "\n".join(out) + "\n"


def _profile_lines(profile: Profile, key: Any) -> list[str]:
    regional = profile.regional_tax_preferences or {}
    lines = [
        f"### `{profile.name}`: {profile.summary}\n",
        f"- HostRet: Country `{profile.country}`, ProductName `{profile.product} <year>`; "
        f"CompanyRet/CompanyType `{profile.company_type}`.",
        f"- Preferences: inventory **{_on(profile.inventory)}**, sales tax **{_on(profile.sales_tax)}**, "
        f"multicurrency **{_on(profile.multicurrency)}** (home currency {profile.home_currency}), "
        f"class tracking **{_on(profile.class_tracking)}**"
        + (f"; SalesTaxPreferences {', '.join(f'{k}={v}' for k, v in regional.items())}" if regional else "")
        + ".",
        "- Sources of these: " + "; ".join(f"{k} {key(v)}" for k, v in profile.sources.items()) + ".",
        "",
        "| List | Name | Details | Source |",
        "|---|---|---|---|",
    ]
    for seed in profile.seeds:
        details = ", ".join(f"{k}={_value(v)}" for k, v in seed.data.items() if k != "Name")
        if seed.role:
            details += f"; preference {seed.role}"
        if seed.first_use:
            details += "; **made on first use**, not at setup"
        lines.append(f"| {seed.kind} | {seed.data['Name']} | {details} | {key(seed.source)} |")
    lines.append("")
    return lines


if __name__ == "__main__":
    print(profiles_markdown(), end="")
