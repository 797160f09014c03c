// SPDX-License-Identifier: MIT
// Bench baseline: the least a Merkle claim can cost with OpenZeppelin's MerkleProof: verify
// the same StandardMerkleTree leaf against a stored root and record it, no token transfer.
pragma solidity ^0.8.24;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

contract MerkleBaseline {
    bytes32 public root;
    mapping(address => uint256) public seen;

    function setRoot(bytes32 root_) external {
        root = root_;
    }

    function verify(address account, uint256 amount, bytes32[] calldata proof) external {
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(account, amount))));
        require(MerkleProof.verifyCalldata(proof, root, leaf), "bad proof");
        seen[account] = amount;
    }
}
