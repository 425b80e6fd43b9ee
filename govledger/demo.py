"""`govledger demo`: the governance story on the configured store, told as it happens.

A bureau feed of credit applications is registered; a data scientist ingests generated credit data and
requests AutoML training, which a training worker runs and records as a new version; compliance is configured and documented; a
self-approval and an approval without a batch run are refused (and recorded); a batch run on
held-out data supplies the evidence; a manager approves; the ledger is sealed, verified and proved.
"""

from __future__ import annotations

import functools
import hashlib
import os
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import numpy as np

from domain.application import Governance
from domain.errors import Refused
from domain.roles import Actor
from domain.training import JobState
from ledger.ingest import ingest_file
from ledger.jobs import progress_of
from ledger.sealer import seal_pending
from ledger.tree import stored_inclusion_proof
from ledger.verify import verify_store
from ledger_tools import open_checkpoint, verify_inclusion
from projections.queries import Query
from projections.runner import Projector
from workers.batch import BatchRunner
from workers.deployer import Deployer
from workers.jobs import JobWorker, WorkerSettings
from workers.trainer import Trainer

from .demo_data import SCHEMA, TARGET, credit_data

#: The demo's AutoML budget: enough for every family to be tried on 20,000 rows, short enough to watch.
TRAINING_BUDGET_S = 12
#: The held-out quarter: a recession (incomes down, debt up) and a pay gap, for a drift and a fairness finding.
HELDOUT_DRIFT, HELDOUT_PAY_GAP = 1.0, 0.35
REGIONS = ["north", "south", "east", "west", "central", "coastal", "highlands", "metro"]
TEAM = {"mia": "manager", "cora": "compliance_manager", "dana": "data_scientist", "dev": "data_scientist", "aud": "auditor"}
SECTIONS = {
    "model_info": "Gradient-boosted classifier of 12-month default risk for consumer credit applications.",
    "domain_context": "Retail lending; scores support, never replace, an underwriter's decision.",
    "fairness_bias": "Gender is excluded from the features and monitored with the four-fifths rule on approvals.",
    "provenance": "Trained on the registered bureau-feed extract; lineage recorded with the version.",
    "consent": "Applicants consent to credit checks under the lending agreement; data kept 7 years.",
    "risk_classification": "High risk under internal policy MRM-4: automated credit decisioning.",
}


Track = Callable[[str, int], AbstractContextManager[Callable[[int], None]]]

#: Where the demo leaves its superadmin's API key, under the data directory, for the HTTP tour; and its data
#: scientist's, for the training tour.
ADMIN_KEY_FILE = "demo-admin.apikey"
DATA_SCIENTIST_KEY_FILE = "demo-dana.apikey"
ROUTING_KEY_FILE = "demo-routing.key"
MANAGER_KEY_FILE = "demo-mia.apikey"


def keep_admin_key(data_dir: Path, token: str, file: str = ADMIN_KEY_FILE) -> Path:
    """Write the key to a file only its owner can read, rather than to the terminal: the demo's output is often
    captured (make logs, CI, a shared screen), and a key in scrollback outlives the demo. The signing key
    already lives in this directory, so the file adds nothing an intruder there does not have."""
    path = data_dir / file
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as f:
        os.fchmod(f.fileno(), 0o600)  # a file an earlier demo left keeps its old mode otherwise
        f.write(token + "\n")
    return path


def register_feed(gov: Governance, actor: Actor, data_dir: Any, *, days: int, rows: int,
                  progress: Callable[[int], None]) -> list[UUID]:
    """`days` × regions CSV partitions under data_dir/datasets, each registered with its SHA-256."""
    rng = np.random.default_rng(2026)
    ids = []
    for d in range(days):
        day = date(2026, 1, 1) + timedelta(days=d)
        folder = data_dir / "datasets" / "bureau-feed" / day.isoformat()
        folder.mkdir(parents=True, exist_ok=True)
        for region in REGIONS:
            content = credit_data(rng, rows).to_csv()
            path = folder / f"region={region}.csv"
            path.write_bytes(content)
            ids.append(gov.register_dataset(actor, name=f"bureau-feed {day} {region}", source=str(path), schema=SCHEMA,
                                            row_count=rows, content_hash=hashlib.sha256(content).hexdigest()).id)
            progress(1)
    return ids


def _ingest(ledger: Any, gov: Governance, actor: Actor, name: str, content: bytes) -> UUID:
    """A CSV ingested as the CLI's `datasets ingest` does: profiled, its snapshot kept under its SHA-256."""
    path = ledger.settings.data_dir / "datasets" / f"{name}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return ingest_file(gov, actor, ledger.artifacts, path, name=name, source=f"file:{path.name}", source_kind="file",
                       max_bytes=ledger.settings.max_dataset_bytes).id


def _share_true(stats: dict[str, Any]) -> float:
    counts = {str(value).lower(): count for value, count in stats.get("top") or []}
    total = sum(counts.values())
    return counts.get("true", 0) / total if total else 0.0


def _settings(ledger: Any) -> WorkerSettings:
    s = ledger.settings
    return WorkerSettings(lease_seconds=s.training_lease, max_dataset_bytes=s.max_dataset_bytes, cv_folds=3)


def _work(runner: JobWorker, ledger: Any, job_id: UUID, what: str, track: Track) -> Any:
    """Run a worker beside the demo, as `govledger workers` would, and show the job's progress."""
    worker = threading.Thread(target=runner.step, name=what, daemon=True)
    worker.start()
    with track(what, 100) as advance:
        shown = 0
        while worker.is_alive():
            worker.join(0.25)
            with ledger.db.connect() as conn:
                live = progress_of(ledger.db, conn, str(job_id))
            if live:
                done = int(live["fraction"] * 100)
                advance(done - shown)
                shown = done
        advance(100 - shown)
    return runner.job(job_id)


def tell(ledger: Any, days: int, rows: int, out: Any, track: Track) -> None:
    gov = ledger.application()
    say = functools.partial(out.print, markup=False, highlight=False)
    data_dir = ledger.settings.data_dir
    if gov.is_installed():
        say(f"the demo has already told its story in {data_dir}; checking the ledger it left "
            "(remove that directory, or set GOVLEDGER_DATA_DIR, to tell it again)")
        _prove(ledger, say)
        _try_over_http(data_dir / ADMIN_KEY_FILE, say)
        return
    admin_key = gov.create_admin("root").api_key
    key_file = keep_admin_key(data_dir, admin_key)
    say(f"1. root becomes the first superadmin; its API key is in {key_file} (mode 0600: readable only by you); "
        "the ledger keeps only its SHA-256")
    admin = gov.authenticate(admin_key)
    cast = {}
    keys = {}
    for name, role in TEAM.items():
        gov.create_user(admin, name, role)
        keys[name] = gov.issue_api_key(admin, name, "demo").api_key
        cast[name] = gov.authenticate(keys[name])
    say("   users: " + ", ".join(f"{n} ({r})" for n, r in TEAM.items()))
    dana, mia, cora = cast["dana"], cast["mia"], cast["cora"]
    keep_admin_key(data_dir, keys["dana"], DATA_SCIENTIST_KEY_FILE)
    keep_admin_key(data_dir, keys["mia"], MANAGER_KEY_FILE)

    with track("registering bureau-feed partitions", days * len(REGIONS)) as advance:
        feed = register_feed(gov, dana, data_dir, days=days, rows=rows, progress=advance)
    say(f"2. dana registers {len(feed):,} bureau-feed partitions as datasets, each pinned by its SHA-256")

    rng = np.random.default_rng(7)
    train, heldout = credit_data(rng, 20_000), credit_data(rng, 5_000, drift=HELDOUT_DRIFT, pay_gap=HELDOUT_PAY_GAP)
    train_id = _ingest(ledger, gov, dana, "credit-train-2026", train.to_csv())
    heldout_id = _ingest(ledger, gov, dana, "credit-holdout-2026", heldout.to_csv())
    profile = gov.get_dataset(train_id).profile or {}
    say(f"3. dana ingests 20,000 applications: a snapshot kept under its SHA-256 and profiled (income mean "
        f"{profile.get('income', {}).get('mean', 0):,.0f}, default rate {_share_true(profile.get(TARGET, {})):.1%})")
    model_id = gov.register_model(dana, name="consumer-credit-default", description="12-month default risk").id
    job_id = gov.request_training(dana, dataset_id=train_id, task="classification", target=TARGET,
                                  time_budget_seconds=TRAINING_BUDGET_S, metric="roc_auc", protected_attributes=["gender"],
                                  preprocessing={"scaling": "robust", "outliers": "clip"}, model_id=model_id).id
    job = _work(Trainer(gov, ledger.db, ledger.artifacts, _settings(ledger)), ledger, job_id, "training (AutoML)", track)
    result = job.result or {}
    if job.state is not JobState.SUCCEEDED:
        raise RuntimeError(f"the demo's training job {job_id} ended {job.state}: {job.error}")
    version_id = UUID(result["version_id"])
    version = gov.get_version(dana, version_id)
    families = sorted({entry["family"] for entry in result["leaderboard"]})
    say(f"4. dana requests AutoML (classification of {TARGET}, gender protected, {TRAINING_BUDGET_S} s budget); a training "
        f"worker claims the job and tries {result['candidates']} candidates of {len(families)} families "
        f"({', '.join(families)}); the winner, {result['family']} at cross-validated AUC {result['cv_mean']:.3f} "
        f"± {result['cv_std']:.3f}, becomes version {version.number}: skops artifact sha256 {version.artifact_hash[:16]}…, "
        f"lineage dataset → job {str(job_id)[:8]}… → version")

    gov.configure_compliance(cora, model_id, risk_tier="high")
    for section, text in SECTIONS.items():
        gov.edit_section(cora if section in ("consent", "risk_classification", "fairness_bias") else dana, model_id, section, text)
    gov.export_to_staging(dana, version_id)
    say("5. cora sets the model to high risk (every section mandatory); dana and cora write the six written sections; "
        "dana exports version 1 to staging")

    for who, attempt in (("dana", lambda: gov.approve(dana, version_id, findings="looks good to me", batch_run_id=job_id)),
                         ("mia", lambda: gov.approve(mia, version_id, findings="approving early", batch_run_id=job_id))):
        try:
            attempt()
        except Refused as refusal:
            say(f"6. refused and recorded: {who} tries to approve — [{refusal.code}] {refusal.message}")

    run_id = gov.request_batch_run(mia, version_id, dataset_id=heldout_id, label_column=TARGET,
                                   protected_attributes=["gender"], favourable_outcome=False).id
    run = _work(BatchRunner(gov, ledger.db, ledger.artifacts, _settings(ledger)), ledger, run_id, "batch run", track)
    if run.state is not JobState.SUCCEEDED:
        raise RuntimeError(f"the demo's batch run {run_id} ended {run.state}: {run.error}")
    found = run.result or {}
    summary = found["summary"]
    drift, fair = summary["drift"], summary["fairness"]["gender"]
    m = summary.get("performance") or {}
    say(f"7. mia requests a batch run of version 1 on 5,000 held-out applications from a recession quarter; a batch "
        f"worker loads the artifact after its hash matched the ledger, scores every row and explains it with SHAP: AUC "
        f"{m.get('roc_auc', 0):.3f}; drift in {drift['share_drifted']:.0%} of features "
        f"({', '.join(drift['drifted_features'])}); predicted to repay (the favourable outcome): F "
        f"{fair['groups']['F']['selection_rate']:.1%} vs M {fair['groups']['M']['selection_rate']:.1%}, disparate "
        f"impact {fair['disparate_impact_ratio']:.2f}: the four-fifths rule "
        f"{'is breached' if fair['four_fifths_rule_breached'] else 'holds'}")
    try:
        gov.approve(mia, version_id, findings="Held-out performance within policy.", batch_run_id=run_id)
    except Refused as refusal:
        say(f"   refused and recorded: mia approves without a justification — [{refusal.code}] {refusal.message}")
    justification = ("The drift is the recession scenario the model must withstand; the gap in who is predicted to repay "
                     "follows the pay gap in the applicants' incomes, not gender, which the model never sees; a "
                     "quarterly fairness review is scheduled.")
    gov.approve(mia, version_id, findings=f"Held-out AUC {m.get('roc_auc', 0):.3f}; documentation complete.",
                batch_run_id=run_id, justification=justification)
    # The reader sees the finding, the refusal, and now what answered it: the justification is the point of the gate.
    say(f"   mia writes the justification the gate asks for, kept in the Approved event for ever: “{justification}”")
    score = gov.compliance_score(cora, model_id)
    say(f"8. mia approves version 1. Compliance score {score.score}/100 ({score.risk_tier} risk):")
    for row in score.sections:
        say(f"     {row.section:20} {row.status:16} {'mandatory' if row.mandatory else 'optional ':9}  {row.detail}")
    deployment_id, config_id = _deploy_and_route(ledger, gov, cast, version_id, track, say)
    _read_models(ledger, gov, model_id, say)
    _prove(ledger, say)
    say(f"try: govledger replay {feed[0]} --version 1 · govledger export --out model.tar.gz --model {model_id} · "
        f"govledger erase-subject {cast['dev'].user_id} --reason \"GDPR request 2026-117\" (dev, who did nothing else)")
    say(f"train: govledger train --dataset {train_id} --target {TARGET} --task classification --budget 5 · "
        f"govledger jobs show {job_id} (as dana: GOVLEDGER_API_KEY=$(cat {data_dir / DATA_SCIENTIST_KEY_FILE}))")
    say(f"deploy: govledger deployments show {deployment_id} · govledger routing show {config_id} --history "
        f"(as mia: GOVLEDGER_API_KEY=$(cat {data_dir / MANAGER_KEY_FILE}))")
    _try_over_http(key_file, say)


def _deploy_and_route(ledger: Any, gov: Governance, cast: dict[str, Actor], version_id: UUID, track: Track,
                      say: Callable[..., None]) -> tuple[UUID, UUID]:
    """The approved version deployed on the embedded target and routed to; the routing key kept in a file."""
    mia, dana = cast["mia"], cast["dana"]
    try:
        gov.request_deployment(dana, version_id)
    except Refused as refusal:
        say(f"9. refused and recorded: dana tries to deploy her own model — [{refusal.code}] {refusal.message}")
    deployment_id = gov.request_deployment(mia, version_id, target="local", size="medium").id
    deployer = Deployer(gov, ledger.db, ledger.artifacts, _settings(ledger), ledger.targets())
    deployment = _work(deployer, ledger, deployment_id, "deployment", track)
    if deployment.status.value != "active":
        raise RuntimeError(f"the demo's deployment {deployment_id} ended {deployment.status}: {deployment.error}")
    config = gov.create_routing_config(mia, body={
        "name": "retail credit", "default_version_id": str(version_id),
        "rules": [{"name": "thin credit files", "when": {"all": [{"field": "age", "op": "lt", "value": 25},
                                                                  {"field": "credit_history_months", "op": "lt", "value": 24}]},
                   "version_id": str(version_id)}]})
    key_file = keep_admin_key(ledger.settings.data_dir, config.api_key or "", ROUTING_KEY_FILE)
    say(f"   mia deploys version 1 on the embedded target (medium: {deployment.resources[0]['concurrency']} concurrent "
        f"predictions, {deployment.resources[0]['replicas']} replicas) after a deploy worker loaded its artifact, hash "
        f"checked; she routes \"retail credit\" to it (rule \"thin credit files\": age < 25 and under two years of credit "
        f"history; default: version 1); its routing key is in {key_file} (mode 0600), the ledger keeps only its SHA-256")
    try:
        gov.terminate_deployment(mia, deployment_id, reason="testing the gate")
    except Refused as refusal:
        say(f"   refused and recorded: terminating it while routed — [{refusal.code}] {refusal.message}")
    return deployment_id, config.id  # type: ignore[return-value]


def _read_models(ledger: Any, gov: Any, model_id: UUID, say: Callable[..., None]) -> None:
    """What an auditor sees over HTTP: the read models, now and as of the moment before the approval."""
    db, p = ledger.db, ledger.db.param()
    Projector(db, gov).catch_up()
    with db.connect() as conn:
        refused = conn.execute("SELECT COUNT(*) FROM audit_trail WHERE outcome = 'refused'").fetchone()[0]
        approved = conn.execute(f"SELECT MAX(notification_id) FROM audit_trail WHERE model_id = {p}"
                                " AND event_type = 'ModelVersion.Approved'", (str(model_id),)).fetchone()[0]
        status = {nid: Query(p).valid_at(nid).equal("model_id", str(model_id)).fetch(
            conn, "registry_versions", "status, number", ("number",), None, 1)[0][0]["status"] for nid in (approved - 1, approved)}
    say(f"   read models: the audit trail holds {refused} refused attempts; the registry as of position {approved - 2} says "
        f"version 1 was {status[approved - 1]}, at {approved - 1} {status[approved]} (GET /v1/versions?as_of={approved - 2})")


def _prove(ledger: Any, say: Callable[..., None]) -> None:
    db, signer = ledger.db, ledger.signer()
    with db.connect() as conn:
        sealed = seal_pending(db, conn, signer, batch=ledger.settings.seal_batch)
        note = conn.execute("SELECT note FROM ledger_checkpoints ORDER BY tree_size DESC LIMIT 1").fetchone()[0]
        report = verify_store(db, conn, ledger.verifier())
        checkpoint = open_checkpoint(note, ledger.verifier())
        position = checkpoint.size // 2
        leaf = conn.execute(f"SELECT leaf_hash FROM ledger_events WHERE {db.nid_column} = {db.param()}", (position + 1,)).fetchone()[0]
        proof = stored_inclusion_proof(db, conn, position, checkpoint.size)
        verify_inclusion(position, checkpoint.size, bytes(leaf), proof, checkpoint.root)
    say(f"10. the sealer signs checkpoint {sealed.size if sealed else checkpoint.size}:")
    say(note, end="")
    say(f"   verify: {report.events:,} events, chain intact, {report.checkpoints} checkpoint(s) consistent")
    say(f"   inclusion: event {position} is in the signed tree ({len(proof)}-hash proof verified with ledger_tools)")


def _try_over_http(key_file: Path, say: Callable[..., None]) -> None:
    if key_file.is_file():
        say(f"over HTTP: govledger serve & KEY=$(cat {key_file}); "
            'curl -H "Authorization: Bearer $KEY" localhost:8000/v1/models')
