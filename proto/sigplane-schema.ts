// Generated from sigplane.proto by proto/scripts/generate-schema.js: do not edit.
// The .proto is the source of truth; `npm run build` writes this file again.
/* eslint-disable */
export const sigplaneSchema = {
  "nested": {
    "sigplane": {
      "nested": {
        "SubscriptionState": {
          "values": {
            "STATE_UNSPECIFIED": 0,
            "ACTIVE": 1,
            "DEGRADED": 2,
            "SYNCING": 3,
            "ISOLATED": 4
          }
        },
        "Action": {
          "values": {
            "ACTION_UNSPECIFIED": 0,
            "OPEN": 1,
            "MODIFY": 2,
            "CLOSE": 3,
            "PARTIAL_CLOSE": 4
          }
        },
        "AckStatus": {
          "values": {
            "ACK_UNSPECIFIED": 0,
            "ACCEPTED": 1,
            "DUPLICATE": 2
          }
        },
        "RejectCode": {
          "values": {
            "REJECT_UNSPECIFIED": 0,
            "MALFORMED": 1,
            "FRAME_TOO_LARGE": 2,
            "RATE_LIMITED": 3,
            "SIGNATURE_INVALID": 4,
            "UNKNOWN_KEY": 5,
            "INVALID_FIELD": 6,
            "STALE": 7,
            "FUTURE": 8,
            "REPLAY": 9,
            "WRONG_SUBSCRIPTION": 10,
            "BUSY": 11,
            "DEGRADED_BUFFER_FULL": 12,
            "PRICE_DEVIATION": 13,
            "POSITION_UNKNOWN": 14,
            "ISOLATED": 15,
            "UNSUPPORTED": 16,
            "SEQUENCE_OUT_OF_RANGE": 17,
            "REPORT_INVALID": 18,
            "REPORT_NOT_DELIVERED": 19
          }
        },
        "SignalV1": {
          "fields": {
            "subscriptionId": {
              "type": "string",
              "id": 1
            },
            "sequenceNumber": {
              "type": "uint64",
              "id": 2
            },
            "generatedAt": {
              "type": "int64",
              "id": 3
            },
            "symbol": {
              "type": "string",
              "id": 4
            },
            "orderType": {
              "type": "int32",
              "id": 5
            },
            "volume": {
              "type": "double",
              "id": 6
            },
            "price": {
              "type": "double",
              "id": 7
            },
            "signature": {
              "type": "string",
              "id": 8
            }
          }
        },
        "SignalBody": {
          "fields": {
            "subscriptionId": {
              "type": "string",
              "id": 1
            },
            "sequenceNumber": {
              "type": "uint64",
              "id": 2
            },
            "generatedAt": {
              "type": "int64",
              "id": 3
            },
            "symbol": {
              "type": "string",
              "id": 4
            },
            "orderType": {
              "type": "int32",
              "id": 5
            },
            "volume": {
              "type": "double",
              "id": 6
            },
            "price": {
              "type": "double",
              "id": 7
            },
            "action": {
              "type": "Action",
              "id": 8
            },
            "positionId": {
              "type": "uint64",
              "id": 9
            },
            "stopLoss": {
              "type": "double",
              "id": 10
            },
            "takeProfit": {
              "type": "double",
              "id": 11
            },
            "magic": {
              "type": "uint64",
              "id": 12
            }
          }
        },
        "Signed": {
          "fields": {
            "body": {
              "type": "bytes",
              "id": 1
            },
            "keyId": {
              "type": "string",
              "id": 2
            },
            "mac": {
              "type": "bytes",
              "id": 3
            }
          }
        },
        "Position": {
          "fields": {
            "positionId": {
              "type": "string",
              "id": 1
            },
            "symbol": {
              "type": "string",
              "id": 2
            },
            "orderType": {
              "type": "int32",
              "id": 3
            },
            "volume": {
              "type": "double",
              "id": 4
            },
            "openPrice": {
              "type": "double",
              "id": 5
            },
            "stopLoss": {
              "type": "double",
              "id": 6
            },
            "takeProfit": {
              "type": "double",
              "id": 7
            },
            "magic": {
              "type": "uint64",
              "id": 8
            },
            "openedSequence": {
              "type": "uint64",
              "id": 9
            }
          }
        },
        "SnapshotBody": {
          "fields": {
            "subscriptionId": {
              "type": "string",
              "id": 1
            },
            "sequenceNumber": {
              "type": "uint64",
              "id": 2
            },
            "generatedAt": {
              "type": "int64",
              "id": 3
            },
            "positions": {
              "rule": "repeated",
              "type": "Position",
              "id": 4
            }
          }
        },
        "Ack": {
          "fields": {
            "sequenceNumber": {
              "type": "uint64",
              "id": 1
            },
            "status": {
              "type": "AckStatus",
              "id": 2
            }
          }
        },
        "Reject": {
          "fields": {
            "code": {
              "type": "RejectCode",
              "id": 1
            },
            "message": {
              "type": "string",
              "id": 2
            },
            "sequenceNumber": {
              "type": "uint64",
              "id": 3
            }
          }
        },
        "SyncRequest": {
          "fields": {
            "fromSequence": {
              "type": "uint64",
              "id": 1
            },
            "toSequence": {
              "type": "uint64",
              "id": 2
            },
            "full": {
              "type": "bool",
              "id": 3
            }
          }
        },
        "Subscribe": {
          "fields": {
            "hasLastSequence": {
              "type": "bool",
              "id": 1
            },
            "lastSequence": {
              "type": "uint64",
              "id": 2
            }
          }
        },
        "Delivery": {
          "fields": {
            "subscriptionId": {
              "type": "string",
              "id": 1
            },
            "sequenceNumber": {
              "type": "uint64",
              "id": 2
            },
            "signal": {
              "type": "SignalBody",
              "id": 3
            },
            "signingVersion": {
              "type": "uint32",
              "id": 4
            },
            "acceptedAt": {
              "type": "int64",
              "id": 5
            }
          }
        },
        "DeliveryAck": {
          "fields": {
            "sequenceNumber": {
              "type": "uint64",
              "id": 1
            }
          }
        },
        "Snapshot": {
          "fields": {
            "subscriptionId": {
              "type": "string",
              "id": 1
            },
            "sequenceNumber": {
              "type": "uint64",
              "id": 2
            },
            "positions": {
              "rule": "repeated",
              "type": "Position",
              "id": 3
            }
          }
        },
        "StateChange": {
          "fields": {
            "state": {
              "type": "SubscriptionState",
              "id": 1
            },
            "sequenceNumber": {
              "type": "uint64",
              "id": 2
            },
            "reason": {
              "type": "string",
              "id": 3
            }
          }
        },
        "Heartbeat": {
          "fields": {
            "sentAt": {
              "type": "int64",
              "id": 1
            }
          }
        },
        "Welcome": {
          "fields": {
            "subscriptionId": {
              "type": "string",
              "id": 1
            },
            "state": {
              "type": "SubscriptionState",
              "id": 2
            },
            "lastSequence": {
              "type": "uint64",
              "id": 3
            },
            "role": {
              "type": "string",
              "id": 4
            },
            "signalsPerSecond": {
              "type": "uint32",
              "id": 5
            },
            "signalsBurst": {
              "type": "uint32",
              "id": 6
            }
          }
        },
        "LotMode": {
          "values": {
            "LOT_MODE_UNSPECIFIED": 0,
            "FIXED": 1,
            "MULTIPLIER": 2,
            "EQUITY_RATIO": 3,
            "RISK_PERCENT": 4
          }
        },
        "CopySettings": {
          "fields": {
            "symbolPrefix": {
              "type": "string",
              "id": 1
            },
            "symbolSuffix": {
              "type": "string",
              "id": 2
            },
            "symbolMap": {
              "keyType": "string",
              "type": "string",
              "id": 3
            },
            "lotMode": {
              "type": "LotMode",
              "id": 4
            },
            "lotValue": {
              "type": "double",
              "id": 5
            },
            "masterEquity": {
              "type": "double",
              "id": 6
            },
            "lotMin": {
              "type": "double",
              "id": 7
            },
            "lotMax": {
              "type": "double",
              "id": 8
            },
            "reverse": {
              "type": "bool",
              "id": 9
            },
            "copyStopLoss": {
              "type": "bool",
              "id": 10
            },
            "copyTakeProfit": {
              "type": "bool",
              "id": 11
            },
            "symbolsAllowed": {
              "rule": "repeated",
              "type": "string",
              "id": 12
            },
            "symbolsBlocked": {
              "rule": "repeated",
              "type": "string",
              "id": 13
            },
            "magicsAllowed": {
              "rule": "repeated",
              "type": "uint64",
              "id": 14
            },
            "magicsBlocked": {
              "rule": "repeated",
              "type": "uint64",
              "id": 15
            },
            "priceDeviationPipsMax": {
              "type": "double",
              "id": 16
            },
            "signalAgeMsMax": {
              "type": "uint32",
              "id": 17
            },
            "copyOpenPositions": {
              "type": "bool",
              "id": 18
            }
          }
        },
        "ReceiverSettings": {
          "fields": {
            "subscriptionId": {
              "type": "string",
              "id": 1
            },
            "revision": {
              "type": "uint64",
              "id": 2
            },
            "settings": {
              "type": "CopySettings",
              "id": 3
            }
          }
        },
        "ExecutionKind": {
          "values": {
            "EXECUTION_KIND_UNSPECIFIED": 0,
            "KIND_OPEN": 1,
            "KIND_ADOPT": 2,
            "KIND_CLOSE": 3,
            "KIND_REDUCE": 4,
            "KIND_MODIFY": 5,
            "KIND_SKIP": 6
          }
        },
        "ExecutionOutcome": {
          "values": {
            "OUTCOME_UNSPECIFIED": 0,
            "OUTCOME_FILLED": 1,
            "OUTCOME_PARTIALLY_FILLED": 2,
            "OUTCOME_SKIPPED": 3,
            "OUTCOME_REJECTED": 4
          }
        },
        "ExecutionReport": {
          "fields": {
            "sequenceNumber": {
              "type": "uint64",
              "id": 1
            },
            "masterPositionId": {
              "type": "string",
              "id": 2
            },
            "kind": {
              "type": "ExecutionKind",
              "id": 3
            },
            "outcome": {
              "type": "ExecutionOutcome",
              "id": 4
            },
            "ticket": {
              "type": "string",
              "id": 5
            },
            "requestedVolume": {
              "type": "double",
              "id": 6
            },
            "volume": {
              "type": "double",
              "id": 7
            },
            "hasPrice": {
              "type": "bool",
              "id": 8
            },
            "price": {
              "type": "double",
              "id": 9
            },
            "hasSlippage": {
              "type": "bool",
              "id": 10
            },
            "slippagePips": {
              "type": "double",
              "id": 11
            },
            "hasDelay": {
              "type": "bool",
              "id": 12
            },
            "delayMs": {
              "type": "int64",
              "id": 13
            },
            "hasProfit": {
              "type": "bool",
              "id": 14
            },
            "profit": {
              "type": "double",
              "id": 15
            },
            "currency": {
              "type": "string",
              "id": 16
            },
            "reason": {
              "type": "string",
              "id": 17
            },
            "executedAt": {
              "type": "int64",
              "id": 18
            }
          }
        },
        "ExecutionReportAck": {
          "fields": {
            "sequenceNumber": {
              "type": "uint64",
              "id": 1
            },
            "masterPositionId": {
              "type": "string",
              "id": 2
            },
            "kind": {
              "type": "ExecutionKind",
              "id": 3
            }
          }
        },
        "Frame": {
          "oneofs": {
            "kind": {
              "oneof": [
                "signalV1",
                "signalV2",
                "snapshotFromMaster",
                "ack",
                "reject",
                "syncRequest",
                "subscribe",
                "delivery",
                "deliveryAck",
                "snapshot",
                "stateChange",
                "heartbeat",
                "welcome",
                "receiverSettings",
                "executionReport",
                "executionReportAck"
              ]
            }
          },
          "fields": {
            "signalV1": {
              "type": "SignalV1",
              "id": 1
            },
            "signalV2": {
              "type": "Signed",
              "id": 2
            },
            "snapshotFromMaster": {
              "type": "Signed",
              "id": 3
            },
            "ack": {
              "type": "Ack",
              "id": 4
            },
            "reject": {
              "type": "Reject",
              "id": 5
            },
            "syncRequest": {
              "type": "SyncRequest",
              "id": 6
            },
            "subscribe": {
              "type": "Subscribe",
              "id": 7
            },
            "delivery": {
              "type": "Delivery",
              "id": 8
            },
            "deliveryAck": {
              "type": "DeliveryAck",
              "id": 9
            },
            "snapshot": {
              "type": "Snapshot",
              "id": 10
            },
            "stateChange": {
              "type": "StateChange",
              "id": 11
            },
            "heartbeat": {
              "type": "Heartbeat",
              "id": 12
            },
            "welcome": {
              "type": "Welcome",
              "id": 13
            },
            "receiverSettings": {
              "type": "ReceiverSettings",
              "id": 14
            },
            "executionReport": {
              "type": "ExecutionReport",
              "id": 15
            },
            "executionReportAck": {
              "type": "ExecutionReportAck",
              "id": 16
            }
          }
        }
      }
    }
  }
};
