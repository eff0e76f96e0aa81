# -----------------------------------------------------------------------------
# Outputs
# -----------------------------------------------------------------------------

output "websocket_url" {
  description = "Client URL (append ?token=JWT)."
  value       = module.websocket_api.websocket_url
}

output "management_endpoint" {
  description = "@connections management endpoint of the stage."
  value       = module.websocket_api.management_endpoint
}

output "api_id" {
  description = "WebSocket API ID."
  value       = module.websocket_api.api_id
}

output "table_name" {
  description = "DynamoDB table name."
  value       = module.websocket_api.table_name
}

output "function_names" {
  description = "Lambda function names by manifest name."
  value       = module.websocket_api.function_names
}

output "publish_function_name" {
  description = "Function backends invoke to publish to a room, user or tenant."
  value       = module.websocket_api.publish_function_name
}

output "publish_queue_url" {
  description = "Queue backends send publish requests to."
  value       = module.websocket_api.publish_queue_url
}
