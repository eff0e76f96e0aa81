# -----------------------------------------------------------------------------
# Account bootstrap: what every deployment in this account and region shares
# -----------------------------------------------------------------------------
#
# Apply once per account and region, before the first environment:
#   make plan ENV=bootstrap && make apply ENV=bootstrap
# Environments (dev, prod, a consumer's roots) only read what this creates; destroying
# them leaves it alone. This root refuses `terraform destroy` (prevent_destroy inside the
# module): destroying it would reset API Gateway logging for every API in the region.

module "api_gateway_account" {
  source = "../../modules/websocket_api/modules/api_gateway_account"
}
