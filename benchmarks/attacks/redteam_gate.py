"""Attacks on the gate of the red-team CLI commands (``trustshield redteam ...``).

* ``redteam_gate_roles_file_and_operator_env``: any user writes a roles file granting
  themselves ``red-team`` (``$TRUSTSHIELD_CONFIG``) and names themselves in
  ``$TRUSTSHIELD_OPERATOR``, without a token. A sound TrustShield refuses (naming
  ``$TRUSTSHIELD_TOKEN``), audits the refusal and stores no run.
* ``redteam_gate_tokens``: only a red-team token of the store passes: an analyst token, an
  admin token (admin does not imply red-team) and a red-team token row planted in the
  store's token table by someone who can write the file (no ``token.create`` event) are
  refused; the rig's red-team token passes and the run is stored in its name.
"""

from __future__ import annotations

import json

from attacks.rig import AttackResult

PURPOSE = "attack suite: gate check"
DATA = "nsl-kdd:KDDTest-21.txt"
PLANTED_ID = "0123456789ab"
PLANTED_SECRET = "p" * 43


def evade(rig, *, token: str = "", **env):
    """``trustshield redteam evade`` on the rig's registered model (5 records, one attack)
    with ``$TRUSTSHIELD_TOKEN`` = ``token`` (blank: none) and ``env``."""
    return rig.cli(
        "redteam",
        "evade",
        "--model",
        str(rig.model),
        "--store",
        str(rig.store),
        "--data",
        DATA,
        "--attack",
        "score",
        "--records",
        "5",
        "--purpose",
        PURPOSE,
        env={"TRUSTSHIELD_TOKEN": token, **env},
    )


def register(rig) -> None:
    done = rig.cli("models", "register", "--model", str(rig.model), "--store", str(rig.store))
    if done.returncode != 0:
        raise RuntimeError(f"models register failed: {done.stderr}")


def store_rows(rig, sql: str) -> list[tuple]:
    import duckdb

    db = duckdb.connect(str(rig.store), read_only=True)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def refusals(rig) -> list[dict]:
    return [
        json.loads(details)
        for (details,) in store_rows(
            rig, "SELECT details FROM audit_events WHERE action = 'redteam.refused' ORDER BY seq"
        )
    ]


def redteam_gate_roles_file_and_operator_env(rig) -> AttackResult:
    register(rig)
    roles = rig.root / "trustshield.yaml"
    roles.write_text("roles:\n  mallory: [red-team]\n")
    roles.chmod(0o600)
    done = evade(rig, TRUSTSHIELD_CONFIG=str(roles), TRUSTSHIELD_OPERATOR="mallory")
    runs = store_rows(rig, "SELECT count(*) FROM redteam_runs")[0][0]
    audited = refusals(rig)
    held = (
        done.returncode == 1
        and "TRUSTSHIELD_TOKEN" in done.stderr
        and runs == 0
        and len(audited) == 1
        and audited[0].get("operator") == "mallory"
    )
    return AttackResult(
        "redteam_gate_roles_file_and_operator_env",
        "refused (exit 1, naming $TRUSTSHIELD_TOKEN), the refusal audited with the claimed "
        "operator, no red-team run stored",
        f"exit {done.returncode}: {done.stderr.strip()[:300] or done.stdout.strip()[-200:]}; "
        f"runs stored {runs}; redteam.refused events {len(audited)}",
        held,
    )


def redteam_gate_tokens(rig) -> AttackResult:
    from argon2 import PasswordHasher

    register(rig)
    outcomes = {
        role: evade(rig, token=rig.tokens[role]).returncode for role in ("analyst", "admin")
    }
    import duckdb

    db = duckdb.connect(str(rig.store))
    try:
        db.execute(
            "INSERT INTO api_tokens (token_id, name, roles, secret_hash) VALUES"
            " (?, 'planted', '[\"red-team\"]', ?)",
            [PLANTED_ID, PasswordHasher().hash(PLANTED_SECRET)],
        )
    finally:
        db.close()
    outcomes["planted"] = evade(rig, token=f"tsk_{PLANTED_ID}_{PLANTED_SECRET}").returncode
    passed = evade(rig, token=rig.tokens["red-team"])
    outcomes["red-team"] = passed.returncode
    red_team_id = rig.tokens["red-team"].split("_")[1]
    operators = [op for (op,) in store_rows(rig, "SELECT operator FROM redteam_runs")]
    held = (
        outcomes == {"analyst": 1, "admin": 1, "planted": 1, "red-team": 0}
        and len(operators) == 1
        and operators[0].startswith(f"token:{red_team_id}(")
        and len(refusals(rig)) == 3
    )
    return AttackResult(
        "redteam_gate_tokens",
        "analyst, admin and planted tokens refused (exit 1, each refusal audited); the "
        "red-team token passes (exit 0) and the run is stored in its name",
        f"exit status per token {outcomes}; runs stored by {operators}; refusals audited "
        f"{len(refusals(rig))}"
        + ("" if passed.returncode == 0 else f"; red-team run: {passed.stderr.strip()[-300:]}"),
        held,
    )


ATTACKS = [redteam_gate_roles_file_and_operator_env, redteam_gate_tokens]
