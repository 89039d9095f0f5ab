"""The harness's pytest plugin, loaded from this checkout: options, fixtures and the run's report."""

pytest_plugins = ["harness.plugin"]
