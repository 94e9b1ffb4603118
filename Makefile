# TrustShield: `make demo` runs the main job end to end (train, detect, assess: the trust report
# with its verdict); `make test` runs the whole test suite,
# `make test-fast` all but the slow tests and those that start Chromium, PostgreSQL or Spark;
# `make lint` runs ruff, mypy and the import contract.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
OUT    ?= out
STAMP  := $(VENV)/.installed

.PHONY: demo test test-fast lint install bench clean serve screenshots

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/trustshield train --data nsl-kdd:KDDTrain+_20Percent.txt --spec nsl-kdd --harden adversarial --out $(OUT)/model
	$(BIN)/trustshield detect --model $(OUT)/model --data nsl-kdd:KDDTest+.txt --store $(OUT)/trustshield.duckdb
	$(BIN)/trustshield assess --model $(OUT)/model --data nsl-kdd:KDDTest+.txt --store $(OUT)/trustshield.duckdb --out $(OUT)
	@echo
	@echo "model:   $(OUT)/model (manifest.json holds the sha256 of every file)"
	@echo "alerts:  $(OUT)/trustshield.duckdb (try: $(BIN)/trustshield explain ALERT_ID --store $(OUT)/trustshield.duckdb)"
	@echo "report:  $(OUT)/report.html opens with the verdict (principles met and failing, with the"
	@echo "         failing figures and their bars); its JSON twin is $(OUT)/report.json"

# The demo's model, signed, served with its trust report; prints an admin token once.
serve: $(STAMP)
	@test -f $(OUT)/model/manifest.json || $(MAKE) demo
	@test -f $(OUT)/keys/keyring.json || $(BIN)/trustshield keys generate --keys $(OUT)/keys --store $(OUT)/trustshield.duckdb
	$(BIN)/trustshield models sign --model $(OUT)/model --keys $(OUT)/keys --store $(OUT)/trustshield.duckdb
	$(BIN)/trustshield tokens create --name demo-admin --role admin --role analyst --role auditor --store $(OUT)/trustshield.duckdb
	$(BIN)/trustshield serve --model $(OUT)/model --keys $(OUT)/keys --models-dir $(OUT)/models --reports $(OUT) --store $(OUT)/trustshield.duckdb

test: $(STAMP)
	$(BIN)/python -m pytest

# The markers are registered in pyproject.toml ([tool.pytest.ini_options]).
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow and not browser and not postgres and not spark"

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/pip install --quiet -e '.[bench,spark]'
	$(BIN)/python benchmarks/nsl_kdd.py --json benchmarks/results/nsl_kdd.json
	$(BIN)/python benchmarks/throughput.py --json benchmarks/results/throughput.json
	$(BIN)/python benchmarks/robustness.py --json benchmarks/results/robustness.json
	$(BIN)/python benchmarks/auth.py --json benchmarks/results/auth.json
	$(BIN)/python benchmarks/service_load.py --json benchmarks/results/service_load.json
	$(BIN)/python benchmarks/pcap_peers.py --json benchmarks/results/pcap_peers.json
	$(BIN)/python benchmarks/watch.py --json benchmarks/results/watch.json
	$(BIN)/python benchmarks/spark_scale.py --json benchmarks/results/spark_scale.json
	$(BIN)/python benchmarks/attack_suite.py --json benchmarks/results/attack_suite.json
	$(BIN)/python benchmarks/fuzz_readers.py --json benchmarks/results/fuzz_readers.json
	$(BIN)/python benchmarks/startup.py --json benchmarks/results/startup.json
	$(BIN)/python benchmarks/exports.py --json benchmarks/results/exports.json
	$(BIN)/python benchmarks/tables.py --json benchmarks/results/tables.json
	$(BIN)/python benchmarks/iot23.py --json benchmarks/results/iot23.json
	$(BIN)/python benchmarks/behaviour_scale.py --json benchmarks/results/behaviour_scale.json
	$(BIN)/python benchmarks/behaviour_scale.py --records 500000 --watch-records 0 --spark --json benchmarks/results/behaviour_spark.json
	$(BIN)/python benchmarks/demo_time.py --loaded --json benchmarks/results/demo_time.json
	$(BIN)/python benchmarks/payloads.py --json benchmarks/results/payloads.json
	$(BIN)/python benchmarks/payload_thresholds.py --json benchmarks/results/payload_thresholds.json
	$(BIN)/python benchmarks/domains.py --json benchmarks/results/domains.json
	$(BIN)/python benchmarks/report_scale.py --json benchmarks/results/report_scale.json

# The README's pictures: the demo's report (top of the page) and the dashboard pages the
# browser tests drive (they write tests-output/screenshots/).
screenshots: $(STAMP)
	@test -f $(OUT)/report.html || $(MAKE) demo
	chromium --headless --no-sandbox --disable-gpu --disable-background-networking --hide-scrollbars --window-size=1280,1000 --screenshot=docs/images/report-verdict.png file://$(CURDIR)/$(OUT)/report.html
	$(BIN)/python -m pytest -q -m browser tests/service/test_triage_browser.py tests/service/test_dashboard_browser.py
	cp tests-output/screenshots/alerts-triaged.png docs/images/dashboard-alerts.png
	cp tests-output/screenshots/incident.png docs/images/dashboard-incident.png

clean:
	rm -rf $(OUT) .pytest_cache
