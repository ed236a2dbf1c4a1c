"""The test suite's harness: shared rules and corpus access, the fidelity harness and its report, probes,
the labelled pack's loader and the fuzzer. Test files live one level up; real-engine harnesses in
``tests/engines/``."""
