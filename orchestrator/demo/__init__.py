"""The demo that `make run` starts: an image pipeline (fork/join, sub-workflow, a retry).

`orchestrator worker orchestrator.demo.workers` runs its workers; `start_demo(api_url)` (in
setup.py) registers the definitions through the REST API and starts one workflow.
"""
