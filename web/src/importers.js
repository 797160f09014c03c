// Reads exports from fitness and health services on this device, never uploading them:
// GPX tracks (Strava, watches), Fitbit JSON exports (the account archive's per-metric files
// or Web API responses), Apple Health's export.xml. Each becomes daily figures, averaged over
// the days present, which mapToSchema matches to a request's fields by name and unit.

// Metric names, what they mean, and their unit.
export const METRICS = {
  steps: ['steps per day', 'steps'],
  distance_km: ['distance per day', 'km'],
  active_minutes: ['active minutes per day', 'min'],
  duration_min: ['recorded activity time per day', 'min'],
  elevation_gain_m: ['elevation gain per day', 'm'],
  avg_speed_kmh: ['average speed while recording', 'km/h'],
  resting_hr: ['resting heart rate', 'bpm'],
  avg_hr: ['average heart rate', 'bpm'],
  max_hr: ['highest heart rate', 'bpm'],
  sleep_hours: ['sleep per night', 'h'],
  calories: ['active energy per day', 'kcal'],
};

class Days {
  constructor() { this.sum = new Map(); this.mean = new Map(); this.max = new Map(); this.days = new Set(); }
  add(kind, metric, day, v) {
    if (!Number.isFinite(v) || !day) return;
    this.days.add(day);
    const m = this[kind];
    if (!m.has(metric)) m.set(metric, new Map());
    const per = m.get(metric);
    if (kind === 'sum') per.set(day, (per.get(day) ?? 0) + v);
    else if (kind === 'max') per.set(day, Math.max(per.get(day) ?? -Infinity, v));
    else {
      const c = per.get(day) ?? [0, 0];
      per.set(day, [c[0] + v, c[1] + 1]);
    }
  }
  // Daily figures averaged over the days that have the metric.
  result() {
    const out = {};
    for (const [metric, per] of this.sum) out[metric] = avg([...per.values()]);
    for (const [metric, per] of this.mean) out[metric] = avg([...per.values()].map(([s, n]) => s / n));
    for (const [metric, per] of this.max) out[metric] = Math.max(...per.values());
    return out;
  }
  range() {
    const d = [...this.days].sort();
    return d.length ? [d[0], d.at(-1)] : [];
  }
}

const avg = (a) => a.reduce((x, y) => x + y, 0) / a.length;

function dayOf(date) {
  if (!date) return null;
  const m = String(date).match(/^(\d{4}-\d{2}-\d{2})/);
  if (m) return m[1];
  const us = String(date).match(/^(\d{2})\/(\d{2})\/(\d{2,4})/); // Fitbit archive: MM/DD/YY
  if (us) return `${us[3].length === 2 ? `20${us[3]}` : us[3]}-${us[1]}-${us[2]}`;
  const d = new Date(date);
  return Number.isNaN(d.getTime()) ? null : d.toISOString().slice(0, 10);
}

function haversineKm(a, b) {
  const R = 6371.0088, rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad, dLon = (b.lon - a.lon) * rad;
  const s = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * R * Math.asin(Math.min(1, Math.sqrt(s)));
}

export function parseGpx(text) {
  const doc = new DOMParser().parseFromString(text, 'application/xml');
  if (doc.getElementsByTagName('parsererror').length) throw new Error('This GPX file is not well-formed XML.');
  const pts = [...doc.getElementsByTagNameNS('*', 'trkpt'), ...doc.getElementsByTagNameNS('*', 'rtept')];
  if (!pts.length) throw new Error('This GPX file has no track points.');
  const child = (el, name) => el.getElementsByTagNameNS('*', name)[0]?.textContent;
  const points = pts.map((p) => ({
    lat: Number(p.getAttribute('lat')), lon: Number(p.getAttribute('lon')),
    ele: child(p, 'ele') !== undefined ? Number(child(p, 'ele')) : null,
    time: child(p, 'time') ?? null,
    hr: child(p, 'hr') !== undefined ? Number(child(p, 'hr')) : null,
  })).filter((p) => Number.isFinite(p.lat) && Number.isFinite(p.lon));
  const days = new Days();
  let totalKm = 0, movingMs = 0;
  for (let i = 0; i < points.length; i++) {
    const p = points[i], day = dayOf(p.time) ?? 'undated';
    days.days.add(day);
    if (p.hr !== null && Number.isFinite(p.hr)) { days.add('mean', 'avg_hr', day, p.hr); days.add('max', 'max_hr', day, p.hr); }
    if (i === 0) continue;
    const q = points[i - 1];
    const km = haversineKm(q, p);
    totalKm += km;
    days.add('sum', 'distance_km', day, km);
    if (p.ele !== null && q.ele !== null && p.ele > q.ele) days.add('sum', 'elevation_gain_m', day, p.ele - q.ele);
    if (p.time && q.time) {
      const dt = new Date(p.time) - new Date(q.time);
      if (dt > 0 && dt < 10 * 60e3) { movingMs += dt; days.add('sum', 'duration_min', day, dt / 60e3); }
    }
  }
  const metrics = days.result();
  if (movingMs > 0) metrics.avg_speed_kmh = totalKm / (movingMs / 36e5);
  const name = doc.getElementsByTagNameNS('*', 'name')[0]?.textContent;
  return { source: 'GPX track', detail: `${points.length} track points${name ? ` (“${name}”)` : ''}`, range: days.range(), metrics };
}

// Fitbit: the account archive's files (steps-2024-01-01.json: [{dateTime, value}], …) or Web
// API responses ({"activities-steps": [...]}, {"sleep": [...]}).
export function parseFitbit(files) {
  const days = new Days();
  let items = 0;
  const num = (v) => Number(typeof v === 'object' && v !== null ? (v.value ?? v.bpm) : v);
  for (const { name, json } of files) {
    const n = name.toLowerCase();
    const arrays = Array.isArray(json) ? [[n, json]] : Object.entries(json).filter(([, v]) => Array.isArray(v));
    for (const [key, arr] of arrays) {
      const k = key.toLowerCase();
      for (const it of arr) {
        items++;
        const day = dayOf(it.dateTime ?? it.dateOfSleep ?? it.date ?? it.startTime);
        if (/sleep/.test(k) && it.minutesAsleep !== undefined) days.add('sum', 'sleep_hours', day, Number(it.minutesAsleep) / 60);
        else if (/resting_heart_rate/.test(k)) days.add('mean', 'resting_hr', day, num(it.value));
        else if (/activities-heart/.test(k)) {
          if (it.value?.restingHeartRate !== undefined) days.add('mean', 'resting_hr', day, Number(it.value.restingHeartRate));
        } else if (/heart_rate/.test(k)) {
          days.add('mean', 'avg_hr', day, num(it.value));
          days.add('max', 'max_hr', day, num(it.value));
        } else if (/steps/.test(k)) days.add('sum', 'steps', day, num(it.value));
        else if (/distance/.test(k)) {
          // The archive writes centimetres; the Web API kilometres.
          days.add('sum', 'distance_km', day, num(it.value) / (/activities-/.test(k) ? 1 : 100000));
        } else if (/calories/.test(k)) days.add('sum', 'calories', day, num(it.value));
        else if (/(very|moderately|fairly)_?active_minutes|minutes(very|fairly)active/.test(k)) days.add('sum', 'active_minutes', day, num(it.value));
        else items--;
      }
    }
  }
  if (!items) throw new Error('No Fitbit steps, distance, heart-rate, sleep or activity figures were found in these files.');
  return { source: 'Fitbit export', detail: `${items} daily or intraday values from ${files.length} file${files.length > 1 ? 's' : ''}`, range: days.range(), metrics: days.result() };
}

// Apple Health export.xml: <Record type="HK…" unit=… startDate=… endDate=… value=…/>. Scanned
// as text so an export of hundreds of megabytes does not become a DOM tree.
export function parseAppleHealth(text) {
  const days = new Days();
  const re = /<Record\s([^>]*?)\/?>/g;
  const attr = /(\w+)="([^"]*)"/g;
  let m, records = 0;
  while ((m = re.exec(text))) {
    const a = {};
    let x;
    attr.lastIndex = 0;
    while ((x = attr.exec(m[1]))) a[x[1]] = x[2];
    const day = dayOf(a.startDate), v = Number(a.value);
    switch (a.type) {
      case 'HKQuantityTypeIdentifierStepCount': days.add('sum', 'steps', day, v); break;
      case 'HKQuantityTypeIdentifierDistanceWalkingRunning':
        days.add('sum', 'distance_km', day, a.unit === 'mi' ? v * 1.609344 : a.unit === 'm' ? v / 1000 : v); break;
      case 'HKQuantityTypeIdentifierRestingHeartRate': days.add('mean', 'resting_hr', day, v); break;
      case 'HKQuantityTypeIdentifierHeartRate': days.add('mean', 'avg_hr', day, v); days.add('max', 'max_hr', day, v); break;
      case 'HKQuantityTypeIdentifierActiveEnergyBurned': days.add('sum', 'calories', day, a.unit === 'kJ' ? v / 4.184 : v); break;
      case 'HKQuantityTypeIdentifierAppleExerciseTime': days.add('sum', 'active_minutes', day, v); break;
      case 'HKCategoryTypeIdentifierSleepAnalysis':
        if (/Asleep/.test(a.value)) days.add('sum', 'sleep_hours', dayOf(a.endDate), (new Date(a.endDate.replace(' ', 'T').replace(' ', '')) - new Date(a.startDate.replace(' ', 'T').replace(' ', ''))) / 36e5);
        break;
      default: continue;
    }
    records++;
  }
  if (!records) throw new Error('No steps, distance, heart-rate, energy, exercise or sleep records were found in this Apple Health export.');
  return { source: 'Apple Health export', detail: `${records} records`, range: days.range(), metrics: days.result() };
}

// Picks the parser from the files' names and contents.
export async function importFiles(fileList) {
  const files = [...fileList];
  if (!files.length) throw new Error('Choose a file first.');
  const texts = await Promise.all(files.map(async (f) => ({ name: f.name, text: await f.text() })));
  const first = texts[0];
  if (/\.gpx$/i.test(first.name) || /<gpx[\s>]/.test(first.text.slice(0, 2000))) return parseGpx(first.text);
  if (/<HealthData[\s>]/.test(first.text.slice(0, 100000)) || /export\.xml$/i.test(first.name)) return parseAppleHealth(first.text);
  const json = texts.map(({ name, text }) => {
    try { return { name, json: JSON.parse(text) }; } catch {
      throw new Error(`${name} is neither a GPX track, an Apple Health export.xml, nor a JSON file.`);
    }
  });
  return parseFitbit(json);
}

// Which metric a schema field most likely means, from its name and unit.
const RULES = [
  [/step/, 'steps'],
  [/sleep/, 'sleep_hours'],
  [/rest.*(hr|heart|pulse|bpm)|^rhr|resting/, 'resting_hr'],
  [/max.*(hr|heart|pulse)/, 'max_hr'],
  [/(^|_)(hr|heart|pulse|bpm)/, 'avg_hr'],
  [/elev|ascent|climb/, 'elevation_gain_m'],
  [/speed|pace/, 'avg_speed_kmh'],
  [/dist|(^|_)km($|_)|kilomet|mile/, 'distance_km'],
  [/cal|energy|kcal/, 'calories'],
  [/active|exercise|workout/, 'active_minutes'],
  [/duration|moving|minutes/, 'duration_min'],
];

function convert(metric, value, field) {
  const unit = `${field.unit ?? ''} ${field.name}`.toLowerCase();
  if (metric === 'distance_km') {
    if (/\bmi(les?)?\b/.test(unit)) return value / 1.609344;
    if (/(^|[^k])\bm\b|meter|metre|_m$/.test(unit) && !/km/.test(unit)) return value * 1000;
  }
  if (metric === 'sleep_hours' && /min/.test(unit)) return value * 60;
  if ((metric === 'duration_min' || metric === 'active_minutes') && /\bh(ours?)?\b/.test(unit)) return value / 60;
  return value;
}

export function roundFor(field, v) {
  const d = field.type === 'integer' ? 0 : (field.decimals ?? 4);
  return Number(Number(v).toFixed(Math.min(d, 6)));
}

// -> [{field, metric, value, raw, inBounds}] for every numeric field a metric fits.
export function mapToSchema(fields, metrics) {
  const out = [];
  for (const f of fields) {
    if (f.type === 'category') continue;
    const rule = RULES.find(([re, metric]) => re.test(f.name) && metrics[metric] !== undefined);
    if (!rule) continue;
    const metric = rule[1];
    const value = roundFor(f, convert(metric, metrics[metric], f));
    const lo = f.min !== undefined ? Number(f.min) : -Infinity, hi = f.max !== undefined ? Number(f.max) : Infinity;
    out.push({ field: f.name, metric, value, raw: metrics[metric], inBounds: value >= lo && value <= hi });
  }
  return out;
}
