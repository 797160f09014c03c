// The web app's file importers, run in Node on small exports shaped like the real ones: a
// Fitbit account archive (per-metric files), Fitbit Web API responses, an Apple Health
// export.xml; and the mapping of their daily figures to a request's schema fields (names,
// units, decimals, bounds). GPX parsing needs DOMParser and is covered in Chromium by
// web-market.test.mjs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseFitbit, parseAppleHealth, mapToSchema } from '../../web/src/importers.js';

test('Fitbit archive files: steps summed per day, distance from centimetres, resting HR, sleep', () => {
  const r = parseFitbit([
    { name: 'steps-2024-03-01.json', json: [
      { dateTime: '03/01/24 08:00:00', value: '4000' }, { dateTime: '03/01/24 18:00:00', value: '4000' },
      { dateTime: '03/02/24 09:00:00', value: '6000' }] },
    { name: 'distance-2024-03-01.json', json: [{ dateTime: '03/01/24 08:00:00', value: '500000' }, { dateTime: '03/02/24 08:00:00', value: '300000' }] },
    { name: 'resting_heart_rate-2024-03-01.json', json: [
      { dateTime: '03/01/24 00:00:00', value: { date: '03/01/24', value: 58.5, error: 6.8 } },
      { dateTime: '03/02/24 00:00:00', value: { date: '03/02/24', value: 61.5, error: 6.8 } }] },
    { name: 'sleep-2024-03-01.json', json: [{ dateOfSleep: '2024-03-01', minutesAsleep: 420 }, { dateOfSleep: '2024-03-02', minutesAsleep: 480 }] },
  ]);
  assert.equal(r.metrics.steps, 7000);
  assert.equal(r.metrics.distance_km, 4);
  assert.equal(r.metrics.resting_hr, 60);
  assert.equal(r.metrics.sleep_hours, 7.5);
  assert.deepEqual(r.range, ['2024-03-01', '2024-03-02']);
});

test('Fitbit Web API responses', () => {
  const r = parseFitbit([
    { name: 'a.json', json: { 'activities-steps': [{ dateTime: '2024-03-01', value: '9000' }, { dateTime: '2024-03-02', value: '11000' }] } },
    { name: 'b.json', json: { 'activities-heart': [{ dateTime: '2024-03-01', value: { restingHeartRate: 55 } }] } },
    { name: 'c.json', json: { 'activities-distance': [{ dateTime: '2024-03-01', value: '7.25' }] } },
  ]);
  assert.equal(r.metrics.steps, 10000);
  assert.equal(r.metrics.resting_hr, 55);
  assert.equal(r.metrics.distance_km, 7.25);
  assert.throws(() => parseFitbit([{ name: 'x.json', json: { nothing: [] } }]), /No Fitbit/);
});

test('Apple Health export.xml: steps, distance in miles, resting HR, sleep across midnight', () => {
  const xml = `<?xml version="1.0" encoding="UTF-8"?>
<HealthData locale="en_US">
 <Record type="HKQuantityTypeIdentifierStepCount" sourceName="Phone" unit="count" startDate="2024-04-01 08:00:00 +0200" endDate="2024-04-01 08:10:00 +0200" value="3000"/>
 <Record type="HKQuantityTypeIdentifierStepCount" sourceName="Phone" unit="count" startDate="2024-04-01 17:00:00 +0200" endDate="2024-04-01 17:10:00 +0200" value="5000"/>
 <Record type="HKQuantityTypeIdentifierDistanceWalkingRunning" unit="mi" startDate="2024-04-01 08:00:00 +0200" endDate="2024-04-01 08:10:00 +0200" value="2"/>
 <Record type="HKQuantityTypeIdentifierRestingHeartRate" unit="count/min" startDate="2024-04-01 07:00:00 +0200" endDate="2024-04-01 07:00:00 +0200" value="57"/>
 <Record type="HKCategoryTypeIdentifierSleepAnalysis" startDate="2024-03-31 23:30:00 +0200" endDate="2024-04-01 06:30:00 +0200" value="HKCategoryValueSleepAnalysisAsleepCore"/>
 <Record type="HKCategoryTypeIdentifierSleepAnalysis" startDate="2024-03-31 23:00:00 +0200" endDate="2024-03-31 23:30:00 +0200" value="HKCategoryValueSleepAnalysisInBed"/>
 <Workout workoutActivityType="HKWorkoutActivityTypeRunning" duration="30"/>
</HealthData>`;
  const r = parseAppleHealth(xml);
  assert.equal(r.metrics.steps, 8000);
  assert.ok(Math.abs(r.metrics.distance_km - 3.218688) < 1e-9);
  assert.equal(r.metrics.resting_hr, 57);
  assert.equal(r.metrics.sleep_hours, 7);
  assert.throws(() => parseAppleHealth('<HealthData></HealthData>'), /No steps/);
});

test('figures map to schema fields by name and unit, rounded to the field, flagged out of bounds', () => {
  const fields = [
    { name: 'age', type: 'integer', min: 18, max: 100, role: 'quasi-identifier' },
    { name: 'daily_steps', type: 'integer', min: 0, max: 5000, role: 'measure' },
    { name: 'distance_m', type: 'decimal', unit: 'm', min: '0', max: '100000', decimals: 1, role: 'measure' },
    { name: 'resting_heart_rate', type: 'integer', min: 30, max: 120, role: 'measure' },
    { name: 'sleep_minutes', type: 'integer', unit: 'min', min: 0, max: 1440, role: 'measure' },
    { name: 'activity', type: 'category', categories: ['run', 'walk'], role: 'sensitive' },
  ];
  const m = mapToSchema(fields, { steps: 7000.4, distance_km: 4.12346, resting_hr: 59.6, sleep_hours: 7.5 });
  const by = Object.fromEntries(m.map((x) => [x.field, x]));
  assert.equal(by.daily_steps.value, 7000);
  assert.equal(by.daily_steps.inBounds, false, 'above the field maximum: flagged, not clamped');
  assert.equal(by.distance_m.value, 4123.5);
  assert.equal(by.resting_heart_rate.value, 60);
  assert.equal(by.sleep_minutes.value, 450);
  assert.equal(by.age, undefined);
  assert.equal(by.activity, undefined);
});
