# lblab: `make` builds, `make lab` runs every scenario and writes reports/,
# `make test` runs unit tests then the lab conformance suite. Each installs what is missing.
BUILD   ?= build
JOBS    ?= $(shell nproc)
APT_PKGS = cmake g++ make pkg-config libtins-dev libpcap-dev libboost-dev libboost-filesystem-dev \
           libcli11-dev libgtest-dev libtomlplusplus-dev libssl-dev nlohmann-json3-dev iproute2 ethtool \
           tcpdump tshark curl iperf3 nftables procps iputils-ping python3 libbenchmark-dev liburing-dev
SUDO    := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: all build deps lab test unit-test lab-test bench clean

all: build

deps:
	@missing=$$(for p in $(APT_PKGS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing:" $$missing; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

lab: build
	$(BUILD)/bin/lab run --mode all --out reports
	@echo "report: $(CURDIR)/reports/index.html (algorithms: reports/algorithms.html, health: reports/health.html, HA: reports/ha.html)"

# Speed is measured here, never asserted in tests: the data path in process (ns per
# packet, flow-table lookups at 1M and 10M flows, bytes per flow), then the lab: lbd and
# the kernel side by side per mode (reports/bench.json, reports/bench.html).
bench: build
	@mkdir -p reports
	$(BUILD)/bin/lb_engine_bench --benchmark_out=reports/bench-datapath.json --benchmark_out_format=json
	$(BUILD)/bin/lab bench --mode all --out reports

unit-test: build
	cd $(BUILD) && ctest -L unit --output-on-failure

lab-test: build
	cd $(BUILD) && ctest -L lab --output-on-failure

test: build
	cd $(BUILD) && ctest -L unit --output-on-failure
	cd $(BUILD) && ctest -L lab --output-on-failure

clean:
	rm -rf $(BUILD)
