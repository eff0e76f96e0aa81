# Local gateway: `make dev` (API Gateway WebSocket emulation on moto) and `make publish`.
# PORT, STAGE and HOST come from the main Makefile (defaults 3001, dev, 127.0.0.1).

.PHONY: dev publish

dev: $(GATEWAY_STAMP) ## Run the local gateway on ws://HOST:PORT/STAGE (default ws://127.0.0.1:3001/dev; Ctrl-C stops it)
	@$(PY) -m local_gateway

# USER is also the login name in the environment: only a USER given on the command line
# (make publish USER=bob) is a publish target.
PUBLISH_USER := $(if $(filter command line,$(origin USER)),$(USER),)

publish: $(GATEWAY_STAMP) ## Server-side publish: make -s publish TENANT=t (ROOM=r|USER=u|ALL=1) EVENT=e DATA='<json>'
	@$(PY) -m local_gateway.publish --tenant "$(TENANT)" --room "$(ROOM)" --user "$(PUBLISH_USER)" \
		$(if $(filter-out 0 false no,$(ALL)),--all) --event "$(EVENT)" --data '$(subst ','"'"',$(DATA))'
