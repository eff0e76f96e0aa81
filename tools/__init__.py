"""Developer tools: build, dev tokens, Terraform offline harness."""
