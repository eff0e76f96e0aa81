# tflint configuration for `make lint-tf` (runs only where tflint is installed; it is not
# packaged on PyPI, npm or Debian, so the offline `make test` cannot include it).
# The AWS ruleset checks what the offline schema checks cannot: enum values, instance and
# runtime names, and similar provider-side rules. `tflint --init` downloads it once.

config {
  call_module_type = "local"
}

plugin "terraform" {
  enabled = true
  preset  = "recommended"
}

plugin "aws" {
  enabled = true
  version = "0.44.0" # exists (Nov 2025); bump with care, tflint --init downloads it
  source  = "github.com/terraform-linters/tflint-ruleset-aws"
}

# Modules document every variable and output; the roots do too.
rule "terraform_documented_variables" {
  enabled = true
}

rule "terraform_documented_outputs" {
  enabled = true
}

rule "terraform_typed_variables" {
  enabled = true
}

rule "terraform_naming_convention" {
  enabled = true
}

rule "terraform_standard_module_structure" {
  enabled = true
}
