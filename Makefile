# Optional shortcuts; everything lives in tasks.py (which needs only python3).
.PHONY: app test docker-test lint setup
app test docker-test lint setup:
	python3 tasks.py $@
