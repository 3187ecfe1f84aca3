// One ApexCharts instance per component: created once, then fed new series in place, so a live page
// does not rebuild its chart (and lose zoom and hover) on every refresh.
const charts = new WeakMap();
// The series each chart shows, kept here so that a change can be applied to them (the chart gets copies).
const shown = new WeakMap();
// ApexCharts syncs the charts of one `chart.group` (one crosshair and tooltip across them); each needs its own id.
let charted = 0;

function copy(series) {
    return series.map(s => ({ ...s, data: s.data.slice() }));
}

// The sum drawn of each series, on the element (JSON text): what a test compares with the kernel's count.
function mark(element, series) {
    element.dataset.drawnSums = JSON.stringify(Object.fromEntries(series.map(s => [s.name, s.data.reduce((t, p) => t + p[1], 0)])));
}

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
            id: `chart-${++charted}`,
            group: config.group ?? undefined,
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
        // One label width on every chart, so grouped plots line up and the crosshair runs straight down the page.
        yaxis: { title: { text: config.yTitle }, labels: { formatter: v => shortNumber(v), minWidth: 40, maxWidth: 40 }, min: 0 },
        legend: { position: 'bottom', fontFamily: 'ui-monospace, monospace', formatter: html },
        // The default tooltip is still built (hidden) under a custom one: its labels are escaped too.
        tooltip: { shared: true, intersect: false, custom: tooltip, y: { title: { formatter: name => name ? html(name) + ': ' : '' } } },
        noData: { text: config.empty },
    };
}

// Series names are kernel function and counter names from agents and imports. ApexCharts writes legend and
// tooltip labels as HTML (innerHTML), so they are escaped here and only here; axis titles and the no-data text
// are SVG text (textContent) and go as they are, or they would show '&lt;'.
function html(text) {
    return String(text).replace(/[&<>"']/g, c => `&#${c.charCodeAt(0)};`);
}

// At the hovered time: the series that are not zero there, biggest first, with their colours; names escaped.
function tooltip({ series, dataPointIndex, w }) {
    const x = w.globals.seriesX[0]?.[dataPointIndex];
    const time = x === undefined ? '' : new Intl.DateTimeFormat('sv-SE', {
        timeZone: w.config.xaxis.labels.datetimeUTC ? 'UTC' : undefined,
        year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit',
    }).format(new Date(x));
    const rows = series
        .map((values, i) => ({ name: w.globals.seriesNames[i], value: values[dataPointIndex], color: w.globals.colors[i] }))
        .filter(r => r.value)
        .sort((a, b) => b.value - a.value)
        .map(r => `<div class="apexcharts-tooltip-series-group apexcharts-active" style="display:flex">`
            + `<span class="apexcharts-tooltip-marker" style="background-color:${html(r.color)}"></span>`
            + `<div class="apexcharts-tooltip-text"><span class="apexcharts-tooltip-text-y-label">${html(r.name)}: </span>`
            + `<span class="apexcharts-tooltip-text-y-value">${shortNumber(r.value)}</span></div></div>`);
    return `<div class="apexcharts-tooltip-title">${html(time)}</div>${rows.length ? rows.join('') : '<div class="apexcharts-tooltip-series-group apexcharts-active">nothing</div>'}`;
}

function shortNumber(v) {
    if (v >= 1e6) return (v / 1e6).toFixed(1).replace(/\.0$/, '') + 'M';
    if (v >= 1e3) return (v / 1e3).toFixed(1).replace(/\.0$/, '') + 'k';
    return Math.round(v).toString();
}

export function render(element, config, series, axis) {
    const chart = new window.ApexCharts(element, options(config, copy(series), axis));
    charts.set(element, chart);
    shown.set(element, series);
    mark(element, series);
    element.dataset.updates = '0';
    return chart.render();
}

export function update(element, series, axis) {
    if (!charts.get(element)) return;
    shown.set(element, series);
    return draw(element, axis);
}

// Only what changed: `drop` points gone at the start, the chart's points from `from` on replaced by `points`.
export function append(element, change, axis) {
    const series = shown.get(element);
    if (!charts.get(element) || !series) return;
    series.forEach((s, i) => {
        s.data.splice(0, change.drop);
        s.data.length = change.from;
        s.data.push(...change.points[i]);
    });
    return draw(element, axis);
}

function draw(element, axis) {
    const chart = charts.get(element);
    const series = copy(shown.get(element));
    mark(element, series);
    element.dataset.updates = String(Number(element.dataset.updates) + 1);
    // Not passed on to the group: each chart there has series of its own (and gets its own axis from its page).
    return axis ? chart.updateOptions({ series, xaxis: xaxis(axis) }, false, false, false) : chart.updateSeries(series, false);
}

// The viewer switched to or from UTC: same data, other labels.
export function axis(element, axis) {
    return charts.get(element)?.updateOptions({ xaxis: xaxis(axis) }, false, false, false);
}

export function destroy(element) {
    charts.get(element)?.destroy();
    charts.delete(element);
    shown.delete(element);
}
