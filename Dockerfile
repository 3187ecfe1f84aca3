# One image for both roles: the dashboard (default) and the agent (`dropboard-agent run ...`).
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
# clang and zlib1g-dev: the agent is published as one Native AOT file.
RUN apt-get update && apt-get install -y --no-install-recommends nodejs npm clang zlib1g-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN dotnet publish src/Web -c Release -o /app/web && dotnet publish src/Agent -c Release -r linux-x64 -o /app/agent

FROM mcr.microsoft.com/dotnet/aspnet:10.0
WORKDIR /app
COPY --from=build /app /app
RUN ln -s /app/agent/dropboard-agent /usr/local/bin/dropboard-agent
# Nobody runs as root here: the dashboard runs as dropboard; the agent starts as root with a few capabilities
# (docker-compose.yml) and becomes dropboard once its sources are open, so the spool is dropboard's. A volume
# created empty takes these owners from the image.
RUN useradd --system --no-create-home --shell /usr/sbin/nologin dropboard \
    && install -d -o dropboard -g dropboard -m 750 /data /var/lib/dropboard-agent/spool
USER dropboard
ENV DropBoard__Database=/data/dropboard.db
# Every interface: sign-in is required, so the first admin is made with `docker compose run --rm web users add NAME --role admin`.
ENV ASPNETCORE_URLS=http://0.0.0.0:5080
VOLUME /data
EXPOSE 5080
ENTRYPOINT ["dotnet", "/app/web/DropBoard.Web.dll"]
