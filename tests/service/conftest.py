"""Fixtures for service tests: a signed tiny model, a service on a temporary store, tokens.

Shared pieces (reuse them in any test under ``tests/service/``):

- ``signed_model`` (session): a tiny model trained on ``synthetic_flows`` and signed with
  a temporary keyring; a :class:`SignedModel` (folder, keys_dir, model_id, frame).
- ``build_service`` (session): a callable ``build_service(root, store=None) -> ServiceRig``
  making a fresh service under ``root`` (a DuckDB store there unless ``store`` names one,
  models and reports folders, the signed model's keyring trusted, one token per role).
  Use it for module-scoped services.
- ``service_rig`` (function): ``build_service(tmp_path)``, not started.
- ``service_client`` (function): a started :class:`TestClient` on ``service_rig``'s app,
  with the signed model uploaded and activated by the admin token.
- ``scored`` (function): ``service_client`` after an analyst scored :func:`sample_records`;
  (client, rig, score response JSON).
- :func:`sweep`: records that scan one feature, which the probing monitor flags.

``ServiceRig.tokens`` maps each role of ``trustshield.config.ROLES`` to a plain token
holding only that role (hashed with :data:`CHEAP_HASHER` to keep set-up fast);
:func:`bearer` turns one into request headers; :func:`sign_in` signs a TestClient in to the
dashboard through its form (:func:`csrf_of` reads a page's CSRF token).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from argon2 import PasswordHasher
from starlette.testclient import TestClient

from synthetic import FLOWS_SPEC, FLOWS_SPEC_TEXT, synthetic_flows, train_small
from trustshield.config import ROLES
from trustshield.model_folder import save_model
from trustshield.service.app import create_app
from trustshield.service.context import ServiceContext
from trustshield.service.settings import ServiceSettings
from trustshield.store.bundles import bundle_from_folder, sign_model_folder
from trustshield.store import tokens as token_table
from trustshield.store.signing import Keyring

SIGNER = "test-signer"
#: argon2id at its lowest cost, for the rigs' tokens only: a default-cost hash takes ~0.6 s
#: on a busy 2-core machine, and verification reads the cost from the hash itself
CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


@dataclass(frozen=True)
class SignedModel:
    """A saved, signed model folder, the keyring that signed it, and its training frame."""

    folder: Path
    keys_dir: Path
    model_id: str
    frame: pd.DataFrame

    def bundle(self) -> dict:
        """The upload bundle, as ``POST /v1/models`` takes it."""
        return bundle_from_folder(self.folder, Keyring(self.keys_dir))


@dataclass
class ServiceRig:
    """One service: settings, its context (store open), the app and a token per role."""

    settings: ServiceSettings
    context: ServiceContext
    app: object
    tokens: dict[str, str]
    signed: SignedModel

    def client(self, **kwargs) -> TestClient:
        """A TestClient on the app (enter it with ``with`` to run the lifespan)."""
        return TestClient(self.app, **kwargs)

    def activate(self, client: TestClient) -> str:
        """Upload and activate the signed model through the API as admin, and wait until
        its scoring capacity is measured; its id."""
        headers = bearer(self.tokens["admin"])
        response = client.post("/v1/models", json=self.signed.bundle(), headers=headers)
        assert response.status_code == 201, response.text
        model_id = response.json()["model_id"]
        response = client.post(f"/v1/models/{model_id}/activate", headers=headers)
        assert response.status_code == 200, response.text
        self.context.measuring.join(60)  # the capacity measurement scores in the background
        return model_id

    def score(self, client: TestClient, records: list[dict]) -> dict:
        """``POST /v1/score`` as the analyst; the response JSON."""
        response = client.post(
            "/v1/score", json={"records": records}, headers=bearer(self.tokens["analyst"])
        )
        assert response.status_code == 200, response.text
        return response.json()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


CSRF = re.compile(r'name="csrf" value="([0-9a-f]*)"')


def csrf_of(html: str) -> str:
    found = CSRF.findall(html)
    assert found and found[0], "the page carries no CSRF token"
    return found[0]


def sign_in(client, token: str, target: str = "/ui/alerts"):
    """Sign in through the form; the response to the POST (not followed)."""
    form = client.get(f"/ui/login?next={target}")
    return client.post(
        "/ui/login",
        data={"csrf": csrf_of(form.text), "next": target, "token": token},
        follow_redirects=False,
    )


def sample_records(frame: pd.DataFrame, *, per_kind: int = 3) -> list[dict]:
    """``per_kind`` records of each label (normal, flood, scan, sweep) as JSON-ready dicts
    without the label, each with a distinct ``src_ip`` identity."""
    picked = frame.groupby("label", sort=True).head(per_kind).drop(columns=["label"])
    records = []
    for k, row in enumerate(picked.to_dict(orient="records")):
        row = {
            key: (value if isinstance(value, str) else float(value)) for key, value in row.items()
        }
        records.append({**row, "src_ip": f"10.0.0.{k + 1}"})
    return records


def sweep(frame: pd.DataFrame, steps: int) -> list[dict]:
    """One normal record with one feature stepped through ``steps`` values: a sensitivity
    scan of the kind model extraction and evasion search make."""
    base = sample_records(frame, per_kind=1)[0]
    return [{**base, "n": float(v)} for v in np.linspace(0, 1000, steps).round()]


@pytest.fixture(scope="session")
def signed_model(tmp_path_factory) -> SignedModel:
    root = tmp_path_factory.mktemp("signed-model")
    frame = synthetic_flows()
    model = train_small(frame, FLOWS_SPEC, FLOWS_SPEC_TEXT)
    keyring = Keyring(root / "keys")
    keyring.generate()
    save_model(model, root / "model")
    manifest, _ = sign_model_folder(root / "model", keyring, signer=SIGNER)
    return SignedModel(root / "model", root / "keys", manifest["model_id"], frame)


@pytest.fixture(scope="session")
def build_service(signed_model):
    def build(root: Path, store: str | None = None) -> ServiceRig:
        root.mkdir(parents=True, exist_ok=True)
        settings = ServiceSettings(
            store=store or str(root / "store.duckdb"),
            models_dir=root / "models",
            keys_dir=signed_model.keys_dir,
            reports_dir=root / "reports",
        )
        context = ServiceContext(settings)
        tokens = {}
        with pytest.MonkeyPatch.context() as patch, context.write("test-setup"):
            patch.setattr(token_table, "_HASHER", CHEAP_HASHER)
            for role in ROLES:
                tokens[role], _ = context.tokens.create(f"{role} (test)", [role])
        return ServiceRig(
            settings, context, create_app(settings, context=context), tokens, signed_model
        )

    return build


@pytest.fixture
def service_rig(build_service, tmp_path) -> ServiceRig:
    return build_service(tmp_path / "service")


@pytest.fixture
def service_client(service_rig):
    with service_rig.client() as client:
        service_rig.activate(client)
        yield client


@pytest.fixture
def scored(service_client, service_rig):
    response = service_rig.score(service_client, sample_records(service_rig.signed.frame))
    return service_client, service_rig, response
