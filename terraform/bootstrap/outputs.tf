output "api_gateway_cloudwatch_role_arn" {
  description = "Role registered in API Gateway's account settings for this region."
  value       = module.api_gateway_account.cloudwatch_role_arn
}
