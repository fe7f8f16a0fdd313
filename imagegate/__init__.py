"""The `imagegate` command: serve, api, worker and check-config (cli.py), the processes it
runs (processes.py), and the private Redis of `imagegate serve`."""
