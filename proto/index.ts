/**
 * @sigplane/protocol: the vocabulary every part of sigplane and its clients
 * speaks. The wire schema (sigplane.proto) and its codec, the reject codes
 * and records, every limit, v1 and v2 signing, the seed's field rules, pip
 * sizes, copy settings and execution reports, the catalogue of error codes
 * and their base class (SigplaneError). It imports nothing of the
 * server: the server and the client SDK both stand on it.
 *
 * Each value is re-exported as `export import name = module.name`, which
 * tsc emits as a plain data property (`exports.name = module.name`).
 * `export *` and `export { name } from` both emit a getter per name and
 * leave this object in V8's slow dictionary mode, and every `protocol.X`
 * the server reads on its hot path then pays for a lookup: the actor step
 * took 0.67 µs instead of 0.48 µs (docs/benchmarks.md, issue 17).
 * test/protocol-barrel.test.ts keeps this list complete and in this form.
 */
import * as cPrintfModule from './c-printf';
import * as codecModule from './codec';
import * as errorsModule from './errors';
import * as executionReportModule from './execution-report';
import * as limitsModule from './limits';
import * as pipSizeModule from './pip-size';
import * as receiverSettingsModule from './receiver-settings';
import * as recordsModule from './records';
import * as signalRulesModule from './signal-rules';
import * as sigplaneErrorModule from './sigplane-error';
import * as signingV1Module from './signing-v1';
import * as signingV2Module from './signing-v2';
import * as tokenBucketModule from './token-bucket';

// c-printf.ts
export import formatDecimalsMax = cPrintfModule.formatDecimalsMax;
export import formatFixed = cPrintfModule.formatFixed;
export import formatFixedExact = cPrintfModule.formatFixedExact;

// codec.ts
export import FrameType = codecModule.FrameType;
export import wireType = codecModule.wireType;
export import deliveryTags = codecModule.deliveryTags;
export import SignalBodyType = codecModule.SignalBodyType;
export import SnapshotBodyType = codecModule.SnapshotBodyType;
export import decodeFrame = codecModule.decodeFrame;
export import decodeSignalBody = codecModule.decodeSignalBody;
export import decodeSnapshotBody = codecModule.decodeSnapshotBody;
export import deliveryFrameObject = codecModule.deliveryFrameObject;
export import encodeAck = codecModule.encodeAck;
export import encodeDelivery = codecModule.encodeDelivery;
export import encodeExecutionReportAck = codecModule.encodeExecutionReportAck;
export import encodeFrame = codecModule.encodeFrame;
export import encodeHeartbeat = codecModule.encodeHeartbeat;
export import encodeReject = codecModule.encodeReject;
export import encodeSignalBody = codecModule.encodeSignalBody;
export import encodeSnapshot = codecModule.encodeSnapshot;
export import encodeSnapshotBody = codecModule.encodeSnapshotBody;
export import encodeStateChange = codecModule.encodeStateChange;
export import encodeSyncRequest = codecModule.encodeSyncRequest;
export import encodeWelcome = codecModule.encodeWelcome;
export import exactDecimal = codecModule.exactDecimal;
export import positionFromFrame = codecModule.positionFromFrame;
export import positionObject = codecModule.positionObject;
export import rejectCodeName = codecModule.rejectCodeName;
export import safeInteger = codecModule.safeInteger;
export import signalBodyFields = codecModule.signalBodyFields;
export import stateName = codecModule.stateName;
export type { WelcomePacing } from './codec';

// errors.ts
export import errorCatalogue = errorsModule.errorCatalogue;
export type { ErrorCatalogueGroup, ErrorCodeEntry, ErrorCodeGroup } from './errors';

// execution-report.ts
export import checkExecutionReport = executionReportModule.checkExecutionReport;
export import executionKindName = executionReportModule.executionKindName;
export import executionKindNumber = executionReportModule.executionKindNumber;
export import executionReportIdPattern = executionReportModule.executionReportIdPattern;
export import executionReportObject = executionReportModule.executionReportObject;
export type { ReportCheck } from './execution-report';

// limits.ts
export import actor = limitsModule.actor;
export import admin = limitsModule.admin;
export import auditLog = limitsModule.auditLog;
export import control = limitsModule.control;
export import copySettings = limitsModule.copySettings;
export import credentials = limitsModule.credentials;
export import engine = limitsModule.engine;
export import executionReports = limitsModule.executionReports;
export import fields = limitsModule.fields;
export import importedMacSecret = limitsModule.importedMacSecret;
export import journalDisk = limitsModule.journalDisk;
export import journalLimits = limitsModule.journalLimits;
export import journalRetention = limitsModule.journalRetention;
export import operations = limitsModule.operations;
export import performanceFees = limitsModule.performanceFees;
export import postgresLimits = limitsModule.postgresLimits;
export import rateLimits = limitsModule.rateLimits;
export import secretsAtRest = limitsModule.secretsAtRest;
export import securityEvents = limitsModule.securityEvents;
export import shipper = limitsModule.shipper;
export import subscriptionConfig = limitsModule.subscriptionConfig;
export import subscriptionDefaults = limitsModule.subscriptionDefaults;
export import wire = limitsModule.wire;
export type { SubscriptionSettings } from './limits';

// pip-size.ts
export import pipSize = pipSizeModule.pipSize;

// receiver-settings.ts
export import LotMode = receiverSettingsModule.LotMode;
export import SettingsError = receiverSettingsModule.SettingsError;
export import SettingsErrorCode = receiverSettingsModule.SettingsErrorCode;
export import copySettingsDefaults = receiverSettingsModule.copySettingsDefaults;
export import encodeReceiverSettings = receiverSettingsModule.encodeReceiverSettings;
export import fromReceiverSettingsFrame = receiverSettingsModule.fromReceiverSettingsFrame;
export import receiverSettingsObject = receiverSettingsModule.receiverSettingsObject;
export import resolveCopySettings = receiverSettingsModule.resolveCopySettings;
export import validateCopySettingsOverrides = receiverSettingsModule.validateCopySettingsOverrides;
export type { CopySettings, ReceiverSettingsMessage } from './receiver-settings';

// records.ts
export import Action = recordsModule.Action;
export import OrderType = recordsModule.OrderType;
export import RejectCode = recordsModule.RejectCode;
export import SubscriptionState = recordsModule.SubscriptionState;
export import UpgradeRefusalCode = recordsModule.UpgradeRefusalCode;
export import executionKinds = recordsModule.executionKinds;
export import executionOutcomes = recordsModule.executionOutcomes;
export import legacyUpgradeEventCodes = recordsModule.legacyUpgradeEventCodes;
export import signalRecord = recordsModule.signalRecord;
export type { DecodedSignalBodyFields, ExecutionKind, ExecutionOutcome, ExecutionReportRecord, Position, SecurityEvent, SecurityEventCode, SignalBodyFields, SignalRecord, SnapshotRecord } from './records';

// signal-rules.ts
export import checkAction = signalRulesModule.checkAction;
export import checkFreshness = signalRulesModule.checkFreshness;
export import checkOrderType = signalRulesModule.checkOrderType;
export import checkPosition = signalRulesModule.checkPosition;
export import checkPositionId = signalRulesModule.checkPositionId;
export import checkPrice = signalRulesModule.checkPrice;
export import checkSequence = signalRulesModule.checkSequence;
export import checkSignalFields = signalRulesModule.checkSignalFields;
export import checkSignalFieldsV2 = signalRulesModule.checkSignalFieldsV2;
export import checkStopLevel = signalRulesModule.checkStopLevel;
export import checkSubscriptionId = signalRulesModule.checkSubscriptionId;
export import checkSymbol = signalRulesModule.checkSymbol;
export import checkVolume = signalRulesModule.checkVolume;
export type { RuleResult, RuleViolation, SignalFieldsV1, SignalFieldsV2 } from './signal-rules';

// sigplane-error.ts
export import SigplaneError = sigplaneErrorModule.SigplaneError;

// signing-v1.ts
export import signV1 = signingV1Module.signV1;
export import v1Payload = signingV1Module.v1Payload;
export import v1PayloadBytes = signingV1Module.v1PayloadBytes;
export import verifyV1 = signingV1Module.verifyV1;
export type { V1Fields, V1Secret, V1Verification } from './signing-v1';

// signing-v2.ts
export import macV2 = signingV2Module.macV2;
export import signV2 = signingV2Module.signV2;
export import v2MacBytes = signingV2Module.v2MacBytes;
export import verifyV2 = signingV2Module.verifyV2;
export type { V2KeyLookup, V2Signed, V2Verdict } from './signing-v2';

// token-bucket.ts
export import TokenBucket = tokenBucketModule.TokenBucket;

// wire-types.ts
export type { DecodedFrame, ExecutionReportFrame, Int64, PositionFrame, ReceiverSettingsFrame, SignalBodyFrame, SignalV1Frame, SignedFrame, SnapshotBodyFrame } from './wire-types';
