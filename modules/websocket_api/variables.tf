# -----------------------------------------------------------------------------
# Naming and tagging
# -----------------------------------------------------------------------------

variable "project" {
  description = "Project name, the first part of every resource name (`<project>-<env>-...`). Lowercase letters, digits and hyphens, 2-20 characters, starting with a letter, so that derived names (Lambda functions, IAM roles, queues) stay under AWS's 64/80-character limits."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,19}$", var.project)) && !endswith(var.project, "-")
    error_message = "project must be 2-20 characters of lowercase letters, digits and hyphens, start with a letter and not end with a hyphen."
  }
}

variable "env" {
  description = "Environment name (e.g. dev, staging, prod): the second part of every resource name and the default stage name. Lowercase letters and digits, 2-10 characters, starting with a letter."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,9}$", var.env))
    error_message = "env must be 2-10 lowercase letters or digits and start with a letter (it becomes part of resource names and the stage name)."
  }
}

variable "tags" {
  description = "Tags added to every taggable resource (on top of the provider's default_tags)."
  type        = map(string)
  default     = {}
}

# -----------------------------------------------------------------------------
# Build artifacts (`make build`)
# -----------------------------------------------------------------------------

variable "artifacts_dir" {
  description = "Directory written by `make build`: it holds manifest.json (runtime, architecture, layer and function zips with their base64 SHA-256) and the zips it names. null = \"<module>/artifacts\", where a release archive (`make release`) carries them, so a consumer of a release sets nothing. Relative paths are relative to the directory Terraform runs in; prefer \"$${path.root}/...\"."
  type        = string
  default     = null

  validation {
    condition     = var.artifacts_dir == null || try(length(trimspace(var.artifacts_dir)) > 0, false)
    error_message = "artifacts_dir must name the output directory of `make build`, or be null to use the artifacts of a release archive."
  }
}

# -----------------------------------------------------------------------------
# Lambda functions
# -----------------------------------------------------------------------------

variable "lambda_runtime" {
  description = "Lambda runtime for every function and the shared layer. Must match the `make build RUNTIME=...` that produced artifacts_dir."
  type        = string
  default     = "python3.13"

  validation {
    condition     = contains(["python3.11", "python3.12", "python3.13", "python3.14"], var.lambda_runtime)
    error_message = "lambda_runtime must be one of python3.11, python3.12, python3.13, python3.14."
  }
}

variable "lambda_architecture" {
  description = "Lambda instruction set architecture. Must match the `make build ARCH=...` that produced artifacts_dir (the layer contains compiled wheels)."
  type        = string
  default     = "arm64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.lambda_architecture)
    error_message = "lambda_architecture must be arm64 or x86_64."
  }
}

variable "function_overrides" {
  description = "Per-function overrides of the manifest's settings, keyed by manifest function name (e.g. send_message). memory_mb and timeout_s replace the manifest values; reserved_concurrency reserves (and caps) concurrency for that function (null = unreserved pool)."
  type = map(object({
    memory_mb            = optional(number)
    timeout_s            = optional(number)
    reserved_concurrency = optional(number)
  }))
  default = {}

  validation {
    condition     = alltrue([for o in values(var.function_overrides) : o.memory_mb == null || (try(o.memory_mb >= 128 && o.memory_mb <= 10240 && floor(o.memory_mb) == o.memory_mb, false))])
    error_message = "function_overrides[*].memory_mb must be a whole number of MB between 128 and 10240."
  }

  validation {
    condition     = alltrue([for o in values(var.function_overrides) : o.timeout_s == null || (try(o.timeout_s >= 1 && o.timeout_s <= 900 && floor(o.timeout_s) == o.timeout_s, false))])
    error_message = "function_overrides[*].timeout_s must be a whole number of seconds between 1 and 900."
  }

  validation {
    condition     = alltrue([for o in values(var.function_overrides) : o.reserved_concurrency == null || (try(o.reserved_concurrency >= 0 && o.reserved_concurrency <= 10000 && floor(o.reserved_concurrency) == o.reserved_concurrency, false))])
    error_message = "function_overrides[*].reserved_concurrency must be null (unreserved) or a whole number between 0 and 10000 (0 disables the function)."
  }
}

variable "log_level" {
  description = "Application log level of every function (LOG_LEVEL), in Lambda's vocabulary. Records below it are not written; embedded metric lines always are."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"], var.log_level)
    error_message = "log_level must be one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL (Lambda's names: WARN, not WARNING)."
  }
}

variable "metrics_namespace" {
  description = "CloudWatch namespace of the functions' embedded metrics (broadcast outcomes, authorizer outcomes). Every metric also carries the dimensions Project and Env, so several deployments can share one namespace in an account and region."
  type        = string
  default     = "ServerlessWebSocket"

  validation {
    condition     = can(regex("^[A-Za-z0-9._/#:-]{1,255}$", var.metrics_namespace)) && !startswith(var.metrics_namespace, "AWS/") && !startswith(var.metrics_namespace, ":")
    error_message = "metrics_namespace must be 1-255 of letters, digits and . _ / # : -, not start with a colon and not use the reserved AWS/ prefix."
  }
}

variable "xray_sdk_enabled" {
  description = "Patch botocore with the AWS X-Ray SDK in every function (TRACING_ENABLED) for per-call subsegments (DynamoDB then goes through boto3's client). The layer must ship the SDK: build with `make build XRAY_SDK=true` (the build manifest records \"xray_sdk\": true; the plan refuses a build without it). Cold starts grow by ~800 ms. Lambda active tracing records every invocation without it."
  type        = bool
  default     = false
}

variable "snap_start_enabled" {
  description = "Lambda SnapStart for every function (python3.12 or later): each deploy publishes a version, Lambda initialises it once and resumes new execution environments from its snapshot, and the integrations, the authorizer, the event source mappings and the function outputs use the \"live\" alias. Trade-offs (README, \"SnapStart\"): Python pays a snapshot caching charge per published version and a restore charge per resumed environment; deploys take longer (a snapshot per function); restored environments share the memory of init (the retry jitter's random generator is reseeded after restore by wscore.logs)."
  type        = bool
  default     = false
}

variable "log_retention_days" {
  description = "Retention of the Lambda and API access log groups, in days (a value CloudWatch Logs accepts; never-expire is deliberately not offered)."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of the values CloudWatch Logs accepts: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653."
  }
}

# -----------------------------------------------------------------------------
# Application settings passed to the functions as environment variables
# -----------------------------------------------------------------------------

variable "connection" {
  description = "Connection lifetime: ttl_seconds is the idle lifetime of a connection item, extended by activity (API Gateway closes idle sockets after 10 min, so the default is 11 min); max_seconds is the hard cap (API Gateway's 2 h)."
  type = object({
    ttl_seconds = optional(number, 660)
    max_seconds = optional(number, 7200)
  })
  default = {}

  validation {
    condition     = var.connection.ttl_seconds >= 60 && var.connection.ttl_seconds <= 7200
    error_message = "connection.ttl_seconds must be between 60 and 7200."
  }

  validation {
    condition     = var.connection.max_seconds >= 60 && var.connection.max_seconds <= 7200 && var.connection.ttl_seconds <= var.connection.max_seconds
    error_message = "connection.max_seconds must be between 60 and 7200 (API Gateway's 2 h cap) and not below connection.ttl_seconds."
  }
}

variable "fanout_threshold" {
  description = "Room size above which a broadcast is delivered through the fan-out queue instead of directly by the sending function."
  type        = number
  default     = 100

  validation {
    condition     = var.fanout_threshold >= 1 && var.fanout_threshold <= 100000 && floor(var.fanout_threshold) == var.fanout_threshold
    error_message = "fanout_threshold must be a whole number between 1 and 100000."
  }
}

variable "presence" {
  description = "Presence of large rooms: above coalesce_threshold users (default 100), join/leave transitions are coalesced into at most one `presence` frame per room every interval_seconds (default 2; SQS delays are whole seconds) listing who joined and who left; rooms at or below the threshold get one frame per transition."
  type = object({
    coalesce_threshold = optional(number, 100)
    interval_seconds   = optional(number, 2)
  })
  default  = {}
  nullable = false

  validation {
    condition     = var.presence.coalesce_threshold >= 1 && var.presence.coalesce_threshold <= 1000000 && floor(var.presence.coalesce_threshold) == var.presence.coalesce_threshold
    error_message = "presence.coalesce_threshold must be a whole number of users between 1 and 1000000."
  }

  validation {
    condition     = var.presence.interval_seconds >= 1 && var.presence.interval_seconds <= 60 && floor(var.presence.interval_seconds) == var.presence.interval_seconds
    error_message = "presence.interval_seconds must be a whole number of seconds between 1 and 60 (SQS delays are whole seconds)."
  }
}

variable "history_retention_seconds" {
  description = "How long room messages are kept for getHistory and resume after a reconnect (DynamoDB TTL). 0 turns history off: messages then carry no seq and getHistory answers an empty page. Each persisted message costs 2 extra write units (<= 1 KB); see the README's cost section."
  type        = number
  default     = 86400

  validation {
    condition     = var.history_retention_seconds >= 0 && var.history_retention_seconds <= 31536000 && floor(var.history_retention_seconds) == var.history_retention_seconds
    error_message = "history_retention_seconds must be a whole number of seconds from 0 (history off) to 31536000 (365 days)."
  }
}

variable "rate_limit_per_connection" {
  description = "sendMessage limit of each connection, a token bucket: per_second tokens per second (0 turns the limit off; at most 1000), burst at once (1-100000). Enforced in each warm Lambda container at no DynamoDB cost, so a connection whose messages are spread over k concurrent containers can reach k x the limit (the tenant limit still bounds it). Refused messages get the rate_limited error with retryAfterMs and change nothing."
  type = object({
    per_second = optional(number, 10)
    burst      = optional(number, 20)
  })
  default = {}

  validation {
    condition     = var.rate_limit_per_connection.per_second >= 0 && var.rate_limit_per_connection.per_second <= 1000 && var.rate_limit_per_connection.burst >= 1 && var.rate_limit_per_connection.burst <= 100000 && floor(var.rate_limit_per_connection.burst) == var.rate_limit_per_connection.burst
    error_message = "rate_limit_per_connection.per_second must be from 0 (off) to 1000 and burst a whole number from 1 to 100000."
  }
}

variable "rate_limit_per_tenant" {
  description = "sendMessage limit of each tenant over all its connections, a token bucket: per_second tokens per second (0 turns the limit off; at most 1000, about what one DynamoDB item can take), burst at once (1-100000). Exact: one conditional write on the tenant's bucket item per message (1 write unit; a second when the container guessed the bucket's state wrong). A tenant's own limit comes from its token's claim (jwt.rate_limit_claim), then tenant_rate_limits, then this default."
  type = object({
    per_second = optional(number, 100)
    burst      = optional(number, 200)
  })
  default = {}

  validation {
    condition     = var.rate_limit_per_tenant.per_second >= 0 && var.rate_limit_per_tenant.per_second <= 1000 && var.rate_limit_per_tenant.burst >= 1 && var.rate_limit_per_tenant.burst <= 100000 && floor(var.rate_limit_per_tenant.burst) == var.rate_limit_per_tenant.burst
    error_message = "rate_limit_per_tenant.per_second must be from 0 (off) to 1000 and burst a whole number from 1 to 100000."
  }
}

variable "tenant_rate_limits" {
  description = "Tenants with their own sendMessage limit, keyed by tenant id (the token's tenant claim), each { per_second, burst } as in rate_limit_per_tenant; a token's rate-limit claim (jwt.rate_limit_claim) wins over it. Passed to the function as JSON in its environment, which Lambda limits to 4 KB in all: at most 2048 characters of JSON, a few dozen tenants (the claim scales to any number)."
  type = map(object({
    per_second = number
    burst      = number
  }))
  default = {}

  validation {
    condition     = alltrue([for tenant in keys(var.tenant_rate_limits) : can(regex("^[A-Za-z0-9._:@|+=~-]{1,128}$", tenant))])
    error_message = "tenant_rate_limits keys must be tenant ids: 1-128 characters of A-Z a-z 0-9 . _ : @ | + = ~ -."
  }

  validation {
    condition     = alltrue([for l in values(var.tenant_rate_limits) : l.per_second >= 0 && l.per_second <= 1000 && l.burst >= 1 && l.burst <= 100000 && floor(l.burst) == l.burst])
    error_message = "tenant_rate_limits[*].per_second must be from 0 (off) to 1000 and burst a whole number from 1 to 100000."
  }

  validation {
    condition     = length(jsonencode({ for tenant, l in var.tenant_rate_limits : tenant => { perSecond = l.per_second, burst = l.burst } })) <= 2048
    error_message = "tenant_rate_limits must fit 2048 characters of JSON (Lambda's environment holds 4 KB in all): give large numbers of tenants their limit through the token claim (jwt.rate_limit_claim) instead."
  }
}

variable "jwt" {
  description = <<-EOT
    JWT verification on $connect. algorithm HS256 needs secret_arn (a Secrets Manager secret ARN or an SSM SecureString parameter ARN; the secret value never enters Terraform or the environment); RS256/ES256 need jwks_url (https). secret_kms_key_arn is the customer managed key that encrypts the secret, if any (grants kms:Decrypt to the authorizer only). issuer and audience are required claims; the *_claim settings name the claims that carry identity (rate_limit_claim: a tenant's own sendMessage limit, {"perSecond": n, "burst": n}, trusted because the issuer signed it); leeway_seconds allows clock skew on iat and nbf (0-60; never on exp, which the authorizer and $connect check alike); secret_cache_seconds bounds how long an HS256 secret is cached (1-3600, default 300).
  EOT
  type = object({
    algorithm          = optional(string, "HS256")
    secret_arn         = optional(string)
    secret_kms_key_arn = optional(string)
    jwks_url           = optional(string)
    issuer             = string
    audience           = string
    user_claim         = optional(string, "sub")
    tenant_claim       = optional(string, "tenant_id")
    rooms_claim        = optional(string, "rooms")
    roles_claim        = optional(string, "roles")
    # A tenant's own sendMessage limit, {"perSecond": n, "burst": n}: see rate_limit_per_tenant.
    rate_limit_claim = optional(string, "rate_limit")
    leeway_seconds   = optional(number, 30)
    # HS256: how long a container keeps the secret (and its previous version) before reading
    # the store again; a token signed with an unknown key also triggers a read (at most every
    # 30 s), so a rotation is picked up within seconds (docs/OPERATIONS.md).
    secret_cache_seconds = optional(number, 300)
  })

  validation {
    condition     = contains(["HS256", "RS256", "ES256"], var.jwt.algorithm)
    error_message = "jwt.algorithm must be HS256, RS256 or ES256."
  }

  validation {
    condition     = var.jwt.algorithm != "HS256" || (var.jwt.secret_arn != null && var.jwt.jwks_url == null)
    error_message = "jwt.algorithm HS256 needs jwt.secret_arn (Secrets Manager or SSM parameter ARN) and no jwt.jwks_url."
  }

  validation {
    condition     = var.jwt.algorithm == "HS256" || (var.jwt.jwks_url != null && var.jwt.secret_arn == null)
    error_message = "jwt.algorithm RS256/ES256 needs jwt.jwks_url and no jwt.secret_arn (public keys come from the JWKS)."
  }

  validation {
    condition     = var.jwt.secret_arn == null || can(regex("^arn:aws[a-z-]*:(secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:.+|ssm:[a-z0-9-]+:[0-9]{12}:parameter/.+)$", var.jwt.secret_arn))
    error_message = "jwt.secret_arn must be a Secrets Manager secret ARN (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME) or an SSM parameter ARN (arn:aws:ssm:REGION:ACCOUNT:parameter/NAME)."
  }

  validation {
    condition     = var.jwt.secret_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.jwt.secret_kms_key_arn))
    error_message = "jwt.secret_kms_key_arn must be a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID)."
  }

  validation {
    condition     = var.jwt.jwks_url == null || can(regex("^https://[^\\s]+$", var.jwt.jwks_url))
    error_message = "jwt.jwks_url must be an https:// URL."
  }

  validation {
    condition     = length(trimspace(var.jwt.issuer)) > 0 && length(trimspace(var.jwt.audience)) > 0
    error_message = "jwt.issuer and jwt.audience must be non-empty: both claims are required on every token."
  }

  validation {
    condition     = alltrue([for c in [var.jwt.user_claim, var.jwt.tenant_claim, var.jwt.rooms_claim, var.jwt.roles_claim, var.jwt.rate_limit_claim] : can(regex("^[A-Za-z0-9_:./-]{1,128}$", c))])
    error_message = "jwt.user_claim, tenant_claim, rooms_claim, roles_claim and rate_limit_claim must be 1-128 characters of letters, digits, _ : . / -."
  }

  validation {
    condition     = var.jwt.leeway_seconds >= 0 && var.jwt.leeway_seconds <= 60
    error_message = "jwt.leeway_seconds must be between 0 and 60."
  }

  validation {
    condition     = var.jwt.secret_cache_seconds >= 1 && var.jwt.secret_cache_seconds <= 3600 && floor(var.jwt.secret_cache_seconds) == var.jwt.secret_cache_seconds
    error_message = "jwt.secret_cache_seconds must be a whole number of seconds between 1 and 3600."
  }
}

variable "allowed_origins" {
  description = "Optional Origin allowlist checked by the authorizer on $connect (browsers send Origin; other clients may not). Empty = no Origin check."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for o in var.allowed_origins : can(regex("^https?://[^/,\\s]+$", o))])
    error_message = "allowed_origins entries must be origins like https://app.example.com (scheme and host, optional port, no path or comma)."
  }
}

# -----------------------------------------------------------------------------
# API Gateway
# -----------------------------------------------------------------------------

variable "route_selection_expression" {
  description = "How API Gateway picks a route from a message. The protocol uses the `action` field of the JSON body."
  type        = string
  default     = "$request.body.action"

  validation {
    condition     = can(regex("^\\$request\\.body\\.[A-Za-z0-9_.]+$", var.route_selection_expression))
    error_message = "route_selection_expression must select a body field, e.g. $request.body.action."
  }
}

variable "stage_name" {
  description = "Stage name (the last path segment of the URL). null = the env name."
  type        = string
  default     = null

  validation {
    condition     = var.stage_name == null || can(regex("^[A-Za-z0-9_-]{1,64}$", var.stage_name))
    error_message = "stage_name must be 1-64 letters, digits, hyphens or underscores."
  }
}

variable "stage_throttling" {
  description = "Default route throttling of the stage. The account-level budget (10,000 rps by default) is shared with the @connections API that every broadcast uses, so keep rate_limit well below it."
  type = object({
    burst_limit = optional(number, 500)
    rate_limit  = optional(number, 1000)
  })
  default = {}

  validation {
    condition     = var.stage_throttling.burst_limit >= 0 && var.stage_throttling.burst_limit <= 5000 && var.stage_throttling.rate_limit >= 0 && var.stage_throttling.rate_limit <= 10000
    error_message = "stage_throttling.burst_limit must be 0-5000 and rate_limit 0-10000 (the default account quotas)."
  }
}

variable "route_throttling" {
  description = "Per-route throttling overrides keyed by route key (e.g. sendMessage, or a consumer route)."
  type = map(object({
    burst_limit = number
    rate_limit  = number
  }))
  default = {}

  validation {
    condition     = alltrue([for t in values(var.route_throttling) : t.burst_limit >= 0 && t.burst_limit <= 5000 && t.rate_limit >= 0 && t.rate_limit <= 10000])
    error_message = "route_throttling[*].burst_limit must be 0-5000 and rate_limit 0-10000."
  }
}

variable "detailed_metrics_enabled" {
  description = "Per-route CloudWatch metrics on the stage (billed as custom metrics)."
  type        = bool
  default     = false
}

variable "stage_logging_level" {
  description = "API Gateway execution logging level (OFF, ERROR, INFO). Message bodies are never logged: data_trace_enabled is always false."
  type        = string
  default     = "ERROR"

  validation {
    condition     = contains(["OFF", "ERROR", "INFO"], var.stage_logging_level)
    error_message = "stage_logging_level must be OFF, ERROR or INFO."
  }
}

variable "manage_api_gateway_account" {
  description = "Removed: the account-level API Gateway CloudWatch role is a per-account-and-region singleton that a destroy resets, so no deployment manages it any more. Apply modules/api_gateway_account once per account and region (terraform/bootstrap). Kept only so that setting it to true explains itself; false is the only accepted value."
  type        = bool
  default     = false

  validation {
    condition     = !var.manage_api_gateway_account
    error_message = "manage_api_gateway_account is no longer supported: a deployment that registers the account's API Gateway CloudWatch role resets it for every API of the region when destroyed. Apply modules/websocket_api/modules/api_gateway_account once per account and region (terraform/bootstrap in this repository) and remove this argument; the existing registration is kept (removed blocks, no destroy)."
  }
}

variable "api_gateway_cloudwatch_role_name" {
  description = "Name of the IAM role registered as API Gateway's CloudWatch Logs role in this account and region (by modules/api_gateway_account, once per account and region). The plan warns when it does not exist or does not trust API Gateway. null = \"apigateway-cloudwatch-logs-<region>\", the name modules/api_gateway_account creates with its default prefix."
  type        = string
  default     = null

  validation {
    condition     = var.api_gateway_cloudwatch_role_name == null || can(regex("^[A-Za-z0-9+=,.@_-]{1,64}$", var.api_gateway_cloudwatch_role_name))
    error_message = "api_gateway_cloudwatch_role_name must be an IAM role name: 1-64 characters of letters, digits and + = , . @ _ -."
  }
}

variable "consumer_routes" {
  description = "Extra routes served by the consumer's own Lambda functions, keyed by route key (the `action` value). function_arn is the function (or alias) ARN; two_way = true returns the function's response to the caller as a reply frame. The module creates the integration, route and a per-route invoke permission."
  type = map(object({
    function_arn = string
    two_way      = optional(bool, false)
  }))
  default = {}

  validation {
    condition     = alltrue([for k in keys(var.consumer_routes) : can(regex("^[A-Za-z][A-Za-z0-9_.:-]{0,127}$", k))])
    error_message = "consumer_routes keys must be action names: start with a letter, up to 128 of A-Z a-z 0-9 _ . : - ($-routes belong to the module)."
  }

  validation {
    condition     = alltrue([for r in values(var.consumer_routes) : can(regex("^arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:function:[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9$_-]+)?$", r.function_arn))])
    error_message = "consumer_routes[*].function_arn must be a Lambda function ARN (arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER])."
  }
}

variable "custom_domain" {
  description = "Optional custom domain: a regional ACM certificate ARN (same region) for domain_name, and an optional API mapping key (path). Create the DNS alias record from the custom_domain_target outputs."
  type = object({
    domain_name     = string
    certificate_arn = string
    mapping_key     = optional(string)
  })
  default = null

  validation {
    condition     = var.custom_domain == null || can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", var.custom_domain.domain_name))
    error_message = "custom_domain.domain_name must be a lowercase DNS name such as ws.example.com."
  }

  validation {
    condition     = var.custom_domain == null || can(regex("^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/.+$", var.custom_domain.certificate_arn))
    error_message = "custom_domain.certificate_arn must be an ACM certificate ARN (arn:aws:acm:REGION:ACCOUNT:certificate/ID) in the API's region."
  }

  validation {
    condition     = var.custom_domain == null || try(var.custom_domain.mapping_key == null || can(regex("^[A-Za-z0-9._-]{1,128}$", var.custom_domain.mapping_key)), false)
    error_message = "custom_domain.mapping_key must be null or a single path segment of letters, digits, . _ -."
  }
}

# -----------------------------------------------------------------------------
# Storage and queues
# -----------------------------------------------------------------------------

variable "kms_key_arn" {
  description = "Optional customer managed KMS key for the table (and its stream) and the queues. null = AWS managed encryption (aws/dynamodb for the table, SQS-managed SSE for the queues). The key policy must allow DynamoDB and SQS to use it."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID)."
  }
}

variable "table_deletion_protection" {
  description = "Protect the DynamoDB table from deletion (turn off only for throw-away environments)."
  type        = bool
  default     = true
}

variable "queue_settings" {
  description = "Per-queue settings keyed by manifest queue name (fanout, publish). visibility_timeout_seconds null = 6x the consumer's timeout (AWS's recommendation for Lambda consumers); a smaller value is rejected."
  type = map(object({
    visibility_timeout_seconds = optional(number)
    message_retention_seconds  = optional(number, 345600)
  }))
  default = {}

  validation {
    condition     = alltrue([for q in values(var.queue_settings) : q.visibility_timeout_seconds == null || try(q.visibility_timeout_seconds >= 0 && q.visibility_timeout_seconds <= 43200, false)])
    error_message = "queue_settings[*].visibility_timeout_seconds must be between 0 and 43200 (12 h)."
  }

  validation {
    condition     = alltrue([for q in values(var.queue_settings) : q.message_retention_seconds >= 60 && q.message_retention_seconds <= 1209600])
    error_message = "queue_settings[*].message_retention_seconds must be between 60 and 1209600 (14 days)."
  }
}

# -----------------------------------------------------------------------------
# Alarms
# -----------------------------------------------------------------------------

variable "alarms" {
  description = "CloudWatch alarms, each with what to do in its description: DLQ depth, age of the oldest message in the fan-out and publish queues (queue_age_seconds), function errors (the authorizer's without rejected tokens) and throttles, authorizer outages (secret store, JWKS, configuration), API integration and execution errors. sns_topic_arn receives alarm and OK notifications (null = alarms without actions)."
  type = object({
    enabled                   = optional(bool, true)
    sns_topic_arn             = optional(string)
    period_seconds            = optional(number, 300)
    evaluation_periods        = optional(number, 1)
    function_errors_threshold = optional(number, 1)
    api_errors_threshold      = optional(number, 5)
    queue_age_seconds         = optional(number, 120)
  })
  default = {}

  validation {
    condition     = var.alarms.sns_topic_arn == null || can(regex("^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}(\\.fifo)?$", var.alarms.sns_topic_arn))
    error_message = "alarms.sns_topic_arn must be an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)."
  }

  validation {
    condition     = contains([60, 300, 900, 3600], var.alarms.period_seconds) && var.alarms.evaluation_periods >= 1 && var.alarms.evaluation_periods <= 24
    error_message = "alarms.period_seconds must be 60, 300, 900 or 3600 and alarms.evaluation_periods 1-24."
  }

  validation {
    condition     = var.alarms.function_errors_threshold >= 1 && var.alarms.api_errors_threshold >= 1
    error_message = "alarms.function_errors_threshold and alarms.api_errors_threshold must be at least 1."
  }

  validation {
    condition     = var.alarms.queue_age_seconds >= 10 && var.alarms.queue_age_seconds <= 86400
    error_message = "alarms.queue_age_seconds must be between 10 s and one day."
  }
}

variable "dashboard_enabled" {
  description = "Create a CloudWatch dashboard (<project>-<env>-websocket-<region>) with what on-call needs: connections and messages, route errors and latency, authorizer outcomes, deliveries, pruned and failed recipients, fan-out queue depth and age, DLQ depth, throttles. Alarm descriptions link to it."
  type        = bool
  default     = true
}
