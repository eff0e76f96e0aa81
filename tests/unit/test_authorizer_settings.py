"""AuthSettings: parsed once per container, failing fast with the variable's name."""

from __future__ import annotations

import pytest

from tools import devtoken
from wscore.auth.settings import AuthSettings
from wscore.errors import ConfigError

SM_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:ws/jwt-AbCdEf"
SSM_ARN = "arn:aws:ssm:eu-west-1:123456789012:parameter/ws/jwt"
BASE = {"JWT_ISSUER": "https://issuer.example", "JWT_AUDIENCE": "ws"}


def test_hs256_with_secrets_manager_arn_and_defaults() -> None:
    s = AuthSettings.from_env({**BASE, "JWT_ALGORITHM": "HS256", "JWT_SECRET_ARN": SM_ARN})
    assert (s.algorithm, s.secret_arn, s.dev_secret, s.jwks_url) == ("HS256", SM_ARN, None, None)
    assert (s.user_claim, s.tenant_claim, s.rooms_claim, s.roles_claim) == (
        "sub",
        "tenant_id",
        "rooms",
        "roles",
    )
    assert s.rate_limit_claim == "rate_limit"
    assert s.leeway_seconds == 30
    assert s.allowed_origins is None
    assert s.dev_mode is False
    assert s.required_claims == ["exp", "iat", "iss", "aud", "sub", "tenant_id"]


def test_hs256_with_ssm_parameter_arn() -> None:
    s = AuthSettings.from_env({**BASE, "JWT_ALGORITHM": "HS256", "JWT_SECRET_ARN": SSM_ARN})
    assert s.secret_arn == SSM_ARN


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
def test_asymmetric_with_https_jwks(alg: str) -> None:
    url = "https://idp.example/.well-known/jwks.json"
    s = AuthSettings.from_env({**BASE, "JWT_ALGORITHM": alg, "JWT_JWKS_URL": url})
    assert (s.algorithm, s.jwks_url, s.secret_arn) == (alg, url, None)


def test_custom_claims_leeway_and_origins() -> None:
    s = AuthSettings.from_env(
        {
            **BASE,
            "JWT_ALGORITHM": "HS256",
            "JWT_SECRET_ARN": SSM_ARN,
            "JWT_USER_CLAIM": "email",
            "JWT_TENANT_CLAIM": "custom:tenant",
            "JWT_ROOMS_CLAIM": "ws_rooms",
            "JWT_ROLES_CLAIM": "cognito:groups",
            "JWT_RATE_LIMIT_CLAIM": "custom:ws_rate",
            "JWT_LEEWAY_SECONDS": "60",
            "ALLOWED_ORIGINS": "https://a.example, https://b.example,,",
        }
    )
    assert s.required_claims == ["exp", "iat", "iss", "aud", "email", "custom:tenant"]
    assert (s.rooms_claim, s.roles_claim, s.leeway_seconds) == ("ws_rooms", "cognito:groups", 60)
    assert s.rate_limit_claim == "custom:ws_rate"
    assert s.allowed_origins == frozenset({"https://a.example", "https://b.example"})


def test_dev_settings_match_the_dev_token_tool() -> None:
    """The local gateway's settings accept what `make token` mints."""
    s = AuthSettings.from_env(
        {
            "DEV_MODE": "true",
            "JWT_ALGORITHM": "HS256",
            "JWT_DEV_SECRET": devtoken.DEV_SECRET,
            "JWT_ISSUER": devtoken.DEV_ISSUER,
            "JWT_AUDIENCE": devtoken.DEV_AUDIENCE,
        }
    )
    assert s.dev_secret == devtoken.DEV_SECRET
    assert devtoken.DEV_SECRET not in repr(s)


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({**BASE}, "JWT_ALGORITHM"),
        ({**BASE, "JWT_ALGORITHM": "none", "JWT_SECRET_ARN": SM_ARN}, "JWT_ALGORITHM"),
        ({**BASE, "JWT_ALGORITHM": "HS512", "JWT_SECRET_ARN": SM_ARN}, "JWT_ALGORITHM"),
        ({**BASE, "JWT_ALGORITHM": "HS256"}, "JWT_SECRET_ARN"),
        ({**BASE, "JWT_ALGORITHM": "HS256", "JWT_SECRET_ARN": "my-secret"}, "JWT_SECRET_ARN"),
        (
            {**BASE, "JWT_ALGORITHM": "HS256", "JWT_SECRET_ARN": "arn:aws:s3:::bucket/key"},
            "JWT_SECRET_ARN",
        ),
        (
            {
                **BASE,
                "JWT_ALGORITHM": "HS256",
                "JWT_SECRET_ARN": "arn:aws:ssm:eu-west-1:123456789012:document/x",
            },
            "JWT_SECRET_ARN",
        ),
        ({**BASE, "JWT_ALGORITHM": "HS256", "JWT_DEV_SECRET": "x" * 40}, "JWT_DEV_SECRET"),
        (
            {**BASE, "JWT_ALGORITHM": "HS256", "DEV_MODE": "false", "JWT_DEV_SECRET": "x" * 40},
            "JWT_DEV_SECRET",
        ),
        (
            {
                **BASE,
                "JWT_ALGORITHM": "HS256",
                "DEV_MODE": "true",
                "JWT_DEV_SECRET": "x" * 40,
                "JWT_SECRET_ARN": SM_ARN,
            },
            "JWT_DEV_SECRET",
        ),
        ({**BASE, "JWT_ALGORITHM": "HS256", "DEV_MODE": "yes"}, "DEV_MODE"),
        (
            {**BASE, "JWT_ALGORITHM": "HS256", "DEV_MODE": "true", "JWT_DEV_SECRET": "short"},
            "JWT_DEV_SECRET",
        ),
        ({**BASE, "JWT_ALGORITHM": "RS256"}, "JWT_JWKS_URL"),
        ({**BASE, "JWT_ALGORITHM": "ES256", "JWT_JWKS_URL": "http://idp/jwks"}, "JWT_JWKS_URL"),
        ({**BASE, "JWT_ALGORITHM": "RS256", "JWT_JWKS_URL": "file:///etc/passwd"}, "JWT_JWKS_URL"),
        ({**BASE, "JWT_ALGORITHM": "RS256", "JWT_JWKS_URL": "https://"}, "JWT_JWKS_URL"),
        (
            {"JWT_AUDIENCE": "ws", "JWT_ALGORITHM": "HS256", "JWT_SECRET_ARN": SM_ARN},
            "JWT_ISSUER",
        ),
        (
            {"JWT_ISSUER": "https://i", "JWT_ALGORITHM": "HS256", "JWT_SECRET_ARN": SM_ARN},
            "JWT_AUDIENCE",
        ),
        (
            {
                **BASE,
                "JWT_ALGORITHM": "HS256",
                "JWT_SECRET_ARN": SM_ARN,
                "JWT_LEEWAY_SECONDS": "61",
            },
            "JWT_LEEWAY_SECONDS",
        ),
        (
            {
                **BASE,
                "JWT_ALGORITHM": "HS256",
                "JWT_SECRET_ARN": SM_ARN,
                "JWT_LEEWAY_SECONDS": "-1",
            },
            "JWT_LEEWAY_SECONDS",
        ),
        (
            {**BASE, "JWT_ALGORITHM": "HS256", "JWT_SECRET_ARN": SM_ARN, "JWT_LEEWAY_SECONDS": "x"},
            "JWT_LEEWAY_SECONDS",
        ),
        (
            {**BASE, "JWT_ALGORITHM": "HS256", "JWT_SECRET_ARN": SM_ARN, "JWT_USER_CLAIM": "a b"},
            "JWT_USER_CLAIM",
        ),
        (
            {**BASE, "JWT_ALGORITHM": "HS256", "JWT_SECRET_ARN": SM_ARN, "JWT_TENANT_CLAIM": "#"},
            "JWT_TENANT_CLAIM",
        ),
        (
            {
                **BASE,
                "JWT_ALGORITHM": "HS256",
                "JWT_SECRET_ARN": SM_ARN,
                "JWT_RATE_LIMIT_CLAIM": "a,b",
            },
            "JWT_RATE_LIMIT_CLAIM",
        ),
    ],
)
def test_invalid_configuration_fails_fast_naming_the_variable(
    env: dict[str, str], variable: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        AuthSettings.from_env(env)
    assert variable in str(caught.value)


def test_dev_mode_allows_plain_http_jwks_for_a_local_idp() -> None:
    s = AuthSettings.from_env(
        {**BASE, "DEV_MODE": "true", "JWT_ALGORITHM": "RS256", "JWT_JWKS_URL": "http://127.0.0.1/j"}
    )
    assert s.jwks_url == "http://127.0.0.1/j"


def test_dev_secret_is_refused_for_asymmetric_algorithms() -> None:
    with pytest.raises(ConfigError, match="JWT_DEV_SECRET"):
        AuthSettings.from_env(
            {
                **BASE,
                "DEV_MODE": "true",
                "JWT_ALGORITHM": "RS256",
                "JWT_JWKS_URL": "https://idp.example/jwks",
                "JWT_DEV_SECRET": "x" * 40,
            }
        )
