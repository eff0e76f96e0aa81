output "websocket_url" {
  description = "Connect with wss://...?token=JWT."
  value       = module.websocket_api.websocket_url
}

output "publish_function_arn" {
  description = "Invoke to publish to a room, user or tenant from a backend."
  value       = module.websocket_api.publish_function_arn
}
