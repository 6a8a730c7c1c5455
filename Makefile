# The two commands of the README. Everything else lives in scripts/.
.PHONY: run test bench

run:
	bash scripts/run.sh

test:
	bash scripts/test.sh

# Catalog scale benchmark (not part of `test`): make bench ARGS="--entities 100000"
bench:
	bash scripts/bench.sh $(ARGS)
