// One ApexCharts instance per component: created once, then fed new series in place, so a live page
// does not rebuild its chart (and lose zoom and hover) on every refresh.
const charts = new WeakMap();

function theme() {
    return window.matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
}

function xaxis(axis) {
    return {
        type: 'datetime', min: axis.min ?? undefined, max: axis.max ?? undefined,
        labels: { datetimeUTC: axis.utc, datetimeFormatter: { year: 'yyyy', month: 'yyyy-MM', day: 'MM-dd', hour: 'HH:mm', minute: 'HH:mm:ss', second: 'HH:mm:ss' } },
        title: { text: axis.title },
    };
}

function options(config, series, axis) {
    return {
        chart: {
            type: config.kind,
            height: config.height,
            stacked: config.stacked,
            animations: { enabled: false },
            background: 'transparent',
            toolbar: { show: config.zoom, tools: { download: false } },
            zoom: { enabled: config.zoom, type: 'x' },
            fontFamily: 'inherit',
        },
        theme: { mode: theme() },
        series,
        dataLabels: { enabled: false },
        stroke: { width: config.kind === 'area' ? 1 : 2, curve: 'straight' },
        fill: { type: 'solid', opacity: config.kind === 'area' ? 0.55 : 1 },
        xaxis: xaxis(axis),
        yaxis: { title: { text: config.yTitle }, labels: { formatter: v => shortNumber(v) }, min: 0 },
        legend: { position: 'bottom', fontFamily: 'ui-monospace, monospace', formatter: html },
        tooltip: { x: { format: 'yyyy-MM-dd HH:mm:ss' }, y: { title: { formatter: name => name ? html(name) + ': ' : '' } } },
        noData: { text: config.empty },
    };
}

// Series names are kernel function and counter names from agents and imports. ApexCharts writes legend and
// tooltip labels as HTML (innerHTML), so they are escaped here and only here; axis titles and the no-data text
// are SVG text (textContent) and go as they are, or they would show '&lt;'.
function html(text) {
    return String(text).replace(/[&<>"']/g, c => `&#${c.charCodeAt(0)};`);
}

function shortNumber(v) {
    if (v >= 1e6) return (v / 1e6).toFixed(1).replace(/\.0$/, '') + 'M';
    if (v >= 1e3) return (v / 1e3).toFixed(1).replace(/\.0$/, '') + 'k';
    return Math.round(v).toString();
}

export function render(element, config, series, axis) {
    const chart = new window.ApexCharts(element, options(config, series, axis));
    charts.set(element, chart);
    element.dataset.updates = '0';
    return chart.render();
}

export function update(element, series, axis) {
    const chart = charts.get(element);
    if (!chart) return;
    element.dataset.updates = String(Number(element.dataset.updates) + 1);
    return axis ? chart.updateOptions({ series, xaxis: xaxis(axis) }, false, false) : chart.updateSeries(series, false);
}

// The viewer switched to or from UTC: same data, other labels.
export function axis(element, axis) {
    return charts.get(element)?.updateOptions({ xaxis: xaxis(axis) }, false, false);
}

export function destroy(element) {
    charts.get(element)?.destroy();
    charts.delete(element);
}
