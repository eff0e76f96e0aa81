output "cloudwatch_role_arn" {
  description = "ARN of the role registered in the account's API Gateway settings for this region (read from the registration, so referencing it orders a stage after it)."
  value       = aws_api_gateway_account.this.cloudwatch_role_arn
}

output "cloudwatch_role_name" {
  description = "Name of that role (<role_name_prefix>-<region>); pass it to the websocket_api module's api_gateway_cloudwatch_role_name if you changed the prefix."
  value       = aws_iam_role.this.name
}
