using DropBoard.Web.Live;
using Prometheus;

namespace DropBoard.Web.Metrics;

public static class MetricsServices
{
    /// <summary>The Prometheus metrics, one more listener at the batch door.</summary>
    public static IServiceCollection AddPrometheusMetrics(this IServiceCollection services)
    {
        services.AddSingleton<PrometheusMetrics>();
        services.AddSingleton<IBatchListener>(sp => sp.GetRequiredService<PrometheusMetrics>());
        return services;
    }

    /// <summary>
    /// <c>/metrics</c> in the Prometheus text format (OpenMetrics when asked for in <c>Accept</c>). Behind the viewer
    /// policy like every endpoint: Prometheus scrapes with an API token (<c>tokens add prometheus --role viewer</c>).
    /// </summary>
    public static IEndpointConventionBuilder MapPrometheusMetrics(this IEndpointRouteBuilder endpoints) =>
        endpoints.MapMetrics(o => o.Registry = endpoints.ServiceProvider.GetRequiredService<PrometheusMetrics>().Registry);
}
