// Moved to src/telephony/telephony-error.ts (shared by every adapter); kept for old imports.
export { TelephonyError, isTelephonyError, type TelephonyErrorCode } from '../telephony-error';
