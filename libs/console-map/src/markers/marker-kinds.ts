import type { Domain } from '@ioc/contracts';
import { CAMERA_MARKER } from './camera-marker';
import { ENV_MARKER } from './env-marker';
import { LIGHTING_MARKER } from './lighting-marker';
import type { MarkerKind } from './marker-kind';
import { TRAFFIC_MARKER } from './traffic-marker';

/** The marker kind of each domain (a new domain without one is a type error). */
export const MARKER_KINDS: Readonly<Record<Domain, MarkerKind>> = {
  env: ENV_MARKER,
  traffic: TRAFFIC_MARKER,
  lighting: LIGHTING_MARKER,
  camera: CAMERA_MARKER,
};
