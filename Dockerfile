# One image for both roles: the dashboard (default) and the agent (`dropboard-agent run ...`).
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
# clang and zlib1g-dev: the agent is published as one Native AOT file.
RUN apt-get update && apt-get install -y --no-install-recommends nodejs npm clang zlib1g-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN dotnet publish src/Web -c Release -o /app/web && dotnet publish src/Agent -c Release -r linux-x64 -o /app/agent

FROM mcr.microsoft.com/dotnet/aspnet:10.0
# modprobe, for the agent to load the host's drop_monitor (NET_DM) from the mounted /lib/modules.
RUN apt-get update && apt-get install -y --no-install-recommends kmod && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app /app
RUN ln -s /app/agent/dropboard-agent /usr/local/bin/dropboard-agent
ENV DropBoard__Database=/data/dropboard.db
# Every interface: sign-in is required, so the first admin is made with `docker compose run --rm web users add NAME --role admin`.
ENV ASPNETCORE_URLS=http://0.0.0.0:5080
VOLUME /data
EXPOSE 5080
ENTRYPOINT ["dotnet", "/app/web/DropBoard.Web.dll"]
