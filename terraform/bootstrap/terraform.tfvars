# Account bootstrap: one apply per account and region (a second region: another state key
# in backend.hcl and another region here).
region = "eu-west-1"
